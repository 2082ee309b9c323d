"""Mixed-load soak: many simulated users against a real `wayline serve` (issue 16).

`runner.run_soak` is shared by `tests/soak/test_soak.py` (short, in the suite) and
`bench/soak.py` (full size, from the command line).
"""
