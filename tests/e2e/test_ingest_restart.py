"""Durable ingestion: SIGKILL the server while a file is processing; after a restart the job
resumes from the database and completes with exactly one set of chunks."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import PG_URL, LiveServer, signup

pytestmark = pytest.mark.e2e

PARAGRAPH = (
    "Shock waves form where the flow decelerates from supersonic to subsonic speed; "
    "their strength depends on the upstream Mach number and the deflection angle. "
)


def chunk_counts(database_url: str, file_id: str) -> tuple[int, int]:
    sql = "SELECT count(*), count(DISTINCT idx) FROM chunk WHERE file_id = %s"
    if PG_URL:
        import psycopg

        with psycopg.connect(database_url) as conn:
            return conn.execute(sql, (file_id,)).fetchone()
    import pysqlite3.dbapi2 as sqlite

    conn = sqlite.connect(database_url.split("///", 1)[1])
    try:
        return conn.execute(sql.replace("%s", "?"), (file_id,)).fetchone()
    finally:
        conn.close()


def status(server: LiveServer, key: str, file_id: str) -> dict:
    return httpx.get(
        f"{server.url}/api/v1/files/{file_id}/process/status",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ).json()


def test_killed_while_processing_resumes_after_restart(
    live_server_factory: Callable[..., LiveServer], database_url: str
) -> None:
    server = live_server_factory()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        key = signup(http, "Admin").api_key
        text = "".join(
            f"Section {i}. " + PARAGRAPH * 4 + "\n\n" for i in range(120)
        )  # ~80 KB, ~120 chunks
        resp = http.post(
            "/api/v1/files/",
            files={"file": ("shocks.txt", text.encode())},
            headers={"Authorization": f"Bearer {key}"},
        )
        file_id = resp.json()["id"]

    deadline = time.monotonic() + 60
    while True:  # kill once the job is claimed and chunked, i.e. mid-embedding
        current = status(server, key, file_id)
        if current["status"] == "processing" and current["progress"]["total"] > 0:
            break
        assert current["status"] in ("pending", "processing") and time.monotonic() < deadline, (
            current
        )
        time.sleep(0.05)
    server.stop(kill=True)  # SIGKILL: no shutdown hooks run
    assert chunk_counts(database_url, file_id) == (0, 0)

    restarted = live_server_factory()
    deadline = time.monotonic() + 120
    while (current := status(restarted, key, file_id))["status"] != "completed":
        assert current["status"] in ("pending", "processing") and time.monotonic() < deadline, (
            current
        )
        time.sleep(0.2)
    total = current["progress"]["total"]
    assert total > 100
    assert chunk_counts(database_url, file_id) == (total, total)
