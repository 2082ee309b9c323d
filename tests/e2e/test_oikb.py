"""The real `oikb` CLI (0.6.0, from the package registry) run unchanged against a live
`wayline serve`: sync a folder tree with sub-folders into a knowledge base, change one file and
delete another, sync again (only the changed file goes up, the deleted one goes away, the others
keep their files, chunks and vectors), `oikb diff` is clean, and a chat over the collection
sends the synced text to the upstream."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import LiveServer, signup
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

K = "/api/v1/knowledge"
TREE = {
    "README.md": "# Lighthouse handbook\nThe keeper of Port Quillon logs every passing ship.",
    "notes.txt": "Shift notes: the lamp is trimmed at dusk and at midnight.",
    "docs/signals.md": "# Signals\nTwo long flashes mean the harbour bar is closed to traffic.",
    "docs/api/ledger.md": "# Ledger\nThe ledger is bound with green sealskin and kept dry.",
    "docs/api/retired.md": "# Retired\nThe old foghorn schedule, kept for the archive.",
}
CHANGED = "# Signals\nThree short flashes now mean the harbour bar is closed to all traffic."


@pytest.fixture
def server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    # Chat goes to the fake upstream; embeddings come from the bundled local model, as in a
    # default install.
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
    )


def oikb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("oikb", path=str(Path(sys.executable).parent)) or shutil.which("oikb")
    assert exe, "the oikb CLI is not installed (pip install -e '.[test]')"
    proc = subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=300, cwd=env["HOME"]
    )
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def wait_processed(http: httpx.Client, kid: str) -> None:
    """Until no upload into the collection waits for processing (it joins once processed)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if http.get(f"{K}/{kid}/files/pending").json() == []:
            return
        time.sleep(0.2)
    raise AssertionError("uploads still pending after 3 minutes")


def files_by_path(http: httpx.Client, kid: str) -> dict[str, dict[str, Any]]:
    page = http.get(f"{K}/{kid}/files", params={"limit": 100}).json()
    directories = {}
    for d in http.get(f"{K}/{kid}/files", params={"directory_id": ""}).json()["directories"]:
        directories[d["id"]] = d["name"]
        stack = [(d["id"], d["name"])]
        while stack:  # walk the folder tree through the API, as a client would
            folder, path = stack.pop()
            for child in http.get(f"{K}/{kid}/files", params={"directory_id": folder}).json()[
                "directories"
            ]:
                directories[child["id"]] = f"{path}/{child['name']}"
                stack.append((child["id"], f"{path}/{child['name']}"))
    out = {}
    for item in page["items"]:
        folder = directories.get(item["directory_id"], "") if item["directory_id"] else ""
        out[f"{folder}/{item['filename']}" if folder else item["filename"]] = item
    return out


def chunk_rows(database_url: str, file_ids: list[str]) -> dict[str, list[tuple[int, Any]]]:
    """Each file's chunk ids and stored vectors, read from the server's database."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            out: dict[str, list[tuple[int, Any]]] = {f: [] for f in file_ids}
            rows = conn.execute(
                sa.text(
                    "SELECT file_id, id, embedding FROM chunk WHERE file_id IN :ids ORDER BY id"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": file_ids},
            )
            for file_id, chunk_id, vector in rows:
                out[file_id].append((chunk_id, vector))
            return out
    finally:
        engine.dispose()


def test_oikb_sync_resync_diff_and_rag(
    server: LiveServer,
    fake_upstream: FakeUpstream,
    tmp_path: Path,
    database_url: str,
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as anon:
        ada = signup(anon, "Ada")
    http = httpx.Client(base_url=server.url, headers=ada.headers, timeout=60)
    kid = http.post(f"{K}/create", json={"name": "Handbook", "description": "synced"}).json()["id"]

    source = tmp_path / "handbook"
    write_tree(source, TREE)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPEN_WEBUI_", "OIKB_"))},
        "HOME": str(home),
        "OIKB_CONFIG_DIR": str(home / ".config" / "oikb"),
        "OPEN_WEBUI_URL": server.url,
        "OPEN_WEBUI_API_KEY": ada.api_key,
        "NO_COLOR": "1",
    }

    # --- first sync: every file up, the folders created ---------------------------------------
    first = oikb("sync", str(source), "--kb-id", kid, env=env)
    assert "Sync complete: 5 added, 2 dirs created" in first.stdout, first.stdout + first.stderr
    wait_processed(http, kid)
    synced = files_by_path(http, kid)
    assert sorted(synced) == sorted(TREE)
    assert all(f["data"]["status"] == "completed" for f in synced.values())
    listed = oikb("ls", "--kb-id", kid, env=env).stdout
    assert all(Path(name).name in listed for name in TREE)
    clean = oikb("diff", str(source), "--kb-id", kid, env=env)
    assert clean.stdout.strip().endswith("5 unchanged"), clean.stdout

    kept = ["README.md", "notes.txt", "docs/api/ledger.md"]
    vectors_before = chunk_rows(database_url, [synced[p]["id"] for p in kept])
    assert all(vectors_before.values())
    uploads_before = http.get("/api/v1/files/").json()["total"]

    # --- change one file, delete another, sync again --------------------------------------------
    (source / "docs/signals.md").write_text(CHANGED)
    (source / "docs/api/retired.md").unlink()
    second = oikb("sync", str(source), "--kb-id", kid, env=env)
    assert "Sync complete: 1 modified, 1 deleted, 3 unchanged" in second.stdout, second.stdout
    wait_processed(http, kid)

    resynced = files_by_path(http, kid)
    assert sorted(resynced) == sorted(set(TREE) - {"docs/api/retired.md"})
    for path in kept:  # the same files, never re-uploaded nor re-processed
        assert resynced[path]["id"] == synced[path]["id"]
        assert resynced[path]["updated_at"] == synced[path]["updated_at"]
    assert chunk_rows(database_url, [synced[p]["id"] for p in kept]) == vectors_before
    assert resynced["docs/signals.md"]["id"] != synced["docs/signals.md"]["id"]
    # One upload more (the changed file), two fewer (its old version and the deleted file).
    assert http.get("/api/v1/files/").json()["total"] == uploads_before + 1 - 2
    for gone in (synced["docs/signals.md"]["id"], synced["docs/api/retired.md"]["id"]):
        assert http.get(f"/api/v1/files/{gone}").status_code == 404

    clean = oikb("diff", str(source), "--kb-id", kid, env=env)
    assert clean.stdout.strip().endswith("4 unchanged"), clean.stdout
    assert "Added" not in clean.stdout and "Modified" not in clean.stdout
    assert "Deleted" not in clean.stdout

    # --- RAG over the synced collection ---------------------------------------------------------
    fake_upstream.reset()
    r = http.post(
        "/api/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "What do three short flashes mean?"}],
            "files": [{"type": "collection", "id": kid}],
        },
    )
    assert r.status_code == 200, r.text
    prompt = fake_upstream.last("/v1/chat/completions").json["messages"][-1]["content"]
    assert "Three short flashes now mean the harbour bar is closed" in prompt
    assert "Two long flashes" not in prompt  # the old version left the collection
    http.close()
