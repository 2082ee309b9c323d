"""Graceful shutdown of a real `wayline serve`: on SIGTERM it stops accepting connections, lets a
stream in flight finish, gives a claimed ingestion job back to the queue, and exits 0. The logs
(LOG_FORMAT=json) are one JSON object per line, uvicorn's own lines included."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PG_URL, LiveServer, signup
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

TOKENS = 30
TOKEN_DELAY = 0.1  # the stream lasts ~3 s


def file_row(database_url: str, file_id: str) -> tuple[str, str | None, int | None]:
    sql = "SELECT status, claimed_by, claimed_at FROM file WHERE id = %s"
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


def refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/ready", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        pass
    return False


def test_sigterm_drains_streams_releases_jobs_and_exits_0(
    live_server_factory: Callable[..., LiveServer],
    fake_upstream: FakeUpstream,
    database_url: str,
    tmp_path: Path,
) -> None:
    fake_upstream.token_delay = TOKEN_DELAY
    fake_upstream.fail(path="/v1/embeddings", mode="hang")  # the job stays mid-flight
    server = live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS="",
        RAG_EMBEDDING_ENGINE="openai",
        RAG_EMBEDDING_MODEL="text-embedding-3-small",
        GRACEFUL_SHUTDOWN_TIMEOUT="30",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    with httpx.Client(base_url=server.url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {signup(http, 'Admin').api_key}"}
        upload = http.post(
            "/api/v1/files/",
            files={"file": ("notes.txt", b"Gliders climb in thermals. " * 200)},
            headers=auth,
        )
        assert upload.status_code == 200, upload.text
        file_id = upload.json()["id"]
        deadline = time.monotonic() + 30
        while True:  # claimed: its embedding call will hang
            state = http.get(f"/api/v1/files/{file_id}/process/status", headers=auth).json()
            if state["status"] == "processing":
                break
            assert state["status"] in ("pending", "processing") and time.monotonic() < deadline
            time.sleep(0.05)
    claimed = file_row(database_url, file_id)
    assert claimed[0] == "processing" and claimed[1]

    started, finished = threading.Event(), threading.Event()
    stream: dict[str, Any] = {"lines": []}

    def chat() -> None:
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Why is the sky blue?"}],
            "stream": True,
            "max_tokens": TOKENS,
        }
        try:
            with (
                httpx.Client(timeout=30) as client,
                client.stream(
                    "POST",
                    f"{server.url}/api/chat/completions",
                    json=body,
                    headers={**auth, "X-Request-ID": "drain-1"},
                ) as resp,
            ):
                stream["status"] = resp.status_code
                stream["request_id"] = resp.headers.get("x-request-id")
                for line in resp.iter_lines():
                    stream["lines"].append(line)
                    started.set()
        except Exception as exc:  # reported by the assertions below
            stream["error"] = repr(exc)
        finally:
            started.set()
            finished.set()

    thread = threading.Thread(target=chat)
    thread.start()
    assert started.wait(15) and "error" not in stream, stream

    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while not refused(server.url):  # the listening socket closes at once
        assert time.monotonic() < deadline, "new connections still accepted after SIGTERM"
        time.sleep(0.05)
    assert not finished.is_set(), "the stream ended before new connections were refused"

    thread.join(30)
    assert finished.is_set() and "error" not in stream, stream
    assert stream["status"] == 200 and stream["request_id"] == "drain-1"
    data = [line.removeprefix("data: ") for line in stream["lines"] if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    text = "".join(
        (choice.get("delta") or {}).get("content") or ""
        for chunk in data[:-1]
        for choice in json.loads(chunk)["choices"]
    )
    assert text.startswith("Echo: Why is the sky blue?") and text.count(" lorem") > 0

    assert server.process.wait(30) == 0
    status, claimed_by, claimed_at = file_row(database_url, file_id)
    assert (status, claimed_by, claimed_at) == ("pending", None, None)

    port = server.url.rsplit(":", 1)[1]
    lines = (tmp_path / f"server-{port}.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    messages = [r["message"] for r in records]
    assert "Shutting down" in messages  # uvicorn's own line, as JSON
    assert any(m.startswith("released 1 unfinished ingestion job") for m in messages), messages
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
