"""The wheel that `pip install .` builds carries every file the package reads at run time:
the bundled model's config and tokenizer, the migrations, the RAG template."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "wayline"

pytestmark = pytest.mark.e2e


def test_wheel_holds_every_source_and_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("wayline-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "wayline/" + path.relative_to(SOURCE).as_posix()
        for path in SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected - packaged == set()
    assert "wayline/embeddings/models/all-MiniLM-L6-v2/tokenizer.json" in packaged
