"""The README's quick-start curl flow, run as written against a real `wayline serve`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_script() -> str:
    text = README.read_text()
    block = re.search(
        r"<!-- quickstart:begin -->\s*```bash\n(.*?)```\s*<!-- quickstart:end -->", text, re.S
    )
    assert block, "README lost its quick-start block"
    return block.group(1)


@pytest.mark.e2e
def test_readme_quickstart_against_a_real_server(live_server):
    script = quickstart_script().replace("http://localhost:3000", live_server.url)
    assert live_server.url in script  # the README still talks to localhost:3000
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    me = json.loads(proc.stdout.strip().splitlines()[-1])
    assert me["email"] == "ada@example.com"
    assert me["role"] == "admin"  # the first account


def test_readme_names_every_setting():
    """Every field of Settings appears in the README's configuration table."""
    from wayline.core.settings import Settings

    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in text]
    assert not missing, f"README configuration table lacks: {missing}"
