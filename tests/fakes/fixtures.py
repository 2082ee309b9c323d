"""Fixtures around the fake upstreams (registered in tests/conftest.py via pytest_plugins)."""
