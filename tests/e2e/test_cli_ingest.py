"""`wayline ingest` against a real `wayline serve`: a folder goes into a collection (found by
name, created once), progress on stderr, a table of outcomes on stdout, and a file the server
cannot read is reported with its reason and exit status 1."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, free_port
from tests.e2e.cli import cli_env, ok, wayline

pytestmark = pytest.mark.e2e


def outcomes(stdout: str) -> dict[str, tuple[str, str, str]]:
    """The final table: file → (status, chunks, detail)."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["STATUS", "FILE", "CHUNKS", "DETAIL"], stdout
    rows = {}
    for line in lines[1:]:
        status, file, chunks, detail = re.split(r"\s{2,}", line, maxsplit=3)
        rows[file] = (status, chunks, detail)
    return rows


@pytest.fixture
def server_and_key(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path, database_url: str
) -> tuple[LiveServer, str, dict[str, str]]:
    server = live_server_factory()
    env = cli_env(tmp_path / "live-data", database_url)
    args = ["user", "create", "--email", "ops@example.com", "--name", "Ops", "--role", "admin"]
    ok(wayline(*args, "--password-stdin", env=env, stdin="ops-pass\n"))
    key = ok(wayline("key", "create", "--user", "ops@example.com", "--name", "ingest", env=env))
    return server, key.stdout.strip(), env


def test_a_folder_into_a_collection_with_a_corrupt_pdf(
    server_and_key: tuple[LiveServer, str, dict[str, str]], tmp_path: Path
):
    server, key, env = server_and_key
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "alpha.md").write_text("# Alpha\n\nThe alpha valve opens at dawn.\n")
    (docs / "beta.txt").write_text("Beta pumps circulate the coolant every hour.\n")
    (docs / "sub" / "gamma.txt").write_text("Gamma sensors report the pressure drop.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nnot a pdf\n")
    (docs / ".notes.txt").write_text("hidden files are skipped\n")
    env = {**env, "WAYLINE_API_KEY": key}  # the key stays out of `ps`

    proc = wayline(
        "ingest",
        "docs",
        "--collection",
        "Manuals",
        "--url",
        server.url,
        "--recursive",
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    rows = outcomes(proc.stdout)
    assert set(rows) == {"docs/alpha.md", "docs/beta.txt", "docs/sub/gamma.txt", "docs/broken.pdf"}
    for name in ("docs/alpha.md", "docs/beta.txt", "docs/sub/gamma.txt"):
        status, chunks, _ = rows[name]
        assert status == "completed" and int(chunks) >= 1, rows[name]
    status, _, reason = rows["docs/broken.pdf"]
    assert status == "failed" and reason, rows["docs/broken.pdf"]
    # Progress: each file counted as it finished, with its chunks; the reason for the failure.
    assert "[4/4]" in proc.stderr and "chunks)" in proc.stderr
    assert f"docs/broken.pdf failed: {reason}" in proc.stderr
    assert proc.stderr.rstrip().endswith("wayline: ingest: 1 of 4 files failed")

    headers = {"Authorization": f"Bearer {key}"}
    listed = httpx.get(f"{server.url}/api/v1/knowledge/", headers=headers).json()["items"]
    assert [k["name"] for k in listed] == ["Manuals"]
    kid = listed[0]["id"]
    files = httpx.get(f"{server.url}/api/v1/knowledge/{kid}/files", headers=headers).json()
    assert sorted(f["filename"] for f in files["items"]) == ["alpha.md", "beta.txt", "gamma.txt"]
    uploaded = httpx.get(f"{server.url}/api/v1/files/", headers=headers).json()["total"]

    # Again, with a file and a folder named: the collection is found, not made twice, and content
    # it holds already is skipped (the second upload removed), not failed.
    (docs / "delta.txt").write_text("Delta valves close when the pressure drops.\n")
    again = wayline(
        "ingest",
        "docs/alpha.md",
        "docs/delta.txt",
        "docs/sub",
        "--collection",
        "Manuals",
        "--url",
        server.url,
        "--api-key",
        key,
        env=env,
        cwd=tmp_path,
    )
    assert again.returncode == 0, (again.stdout, again.stderr)
    rows = outcomes(again.stdout)
    assert rows["docs/alpha.md"][0] == "skipped" and rows["docs/sub/gamma.txt"][0] == "skipped"
    assert rows["docs/delta.txt"][0] == "completed"
    listed = httpx.get(f"{server.url}/api/v1/knowledge/", headers=headers).json()["items"]
    assert [(k["name"], k["file_count"]) for k in listed] == [("Manuals", 4)]
    total = httpx.get(f"{server.url}/api/v1/files/", headers=headers).json()["total"]
    assert total == uploaded + 1


def test_refusals_are_one_line(server_and_key: tuple[LiveServer, str, dict[str, str]], tmp_path):
    server, key, env = server_and_key
    note = tmp_path / "note.txt"
    note.write_text("a note\n")
    for args, expected in (
        (["--url", server.url, "--api-key", "sk-wrong"], "refused the API key: HTTP 401"),
        (["--url", f"http://127.0.0.1:{free_port()}", "--api-key", key], "cannot reach"),
        (["--api-key", key], "--url"),
        (["--url", server.url], "--api-key"),
    ):
        proc = wayline("ingest", str(note), *args, env=env)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and expected in lines[0], proc.stderr
    missing = tmp_path / "missing"
    proc = wayline("ingest", str(missing), "--url", server.url, "--api-key", key, env=env)
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        f"wayline: ingest: {missing} does not exist"
    ]
