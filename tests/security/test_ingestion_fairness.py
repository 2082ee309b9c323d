"""Many users at once: a big file does not starve small ones, and a flaky embedding engine loses
nothing.

The embedding engine is the fake OpenAI-compatible upstream (real HTTP), so these tests are
about scheduling and retries, not model speed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_files import chunks, upload, uploads_dir, wait_done
from tests.conftest import Account, signup
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings
from wayline.files.service import FilesRuntime

BIG = "\n\n".join(
    f"Section {i}: " + "the rotor blade flaps about its hinge " * 24 for i in range(300)
)
SMALL = "A small note about gliders and thermals."


def remote_settings(
    make_settings: Callable[..., Settings], fake: FakeUpstream, **extra: Any
) -> Settings:
    return make_settings(
        RAG_EMBEDDING_ENGINE="openai",
        RAG_EMBEDDING_MODEL="text-embedding-3-small",
        RAG_OPENAI_API_BASE_URL=fake.openai_url,
        RAG_OPENAI_API_KEY="sk-fake-upstream",
        **extra,
    )


def status(client: TestClient, who: Account, file_id: str) -> dict[str, Any]:
    return client.get(f"/api/v1/files/{file_id}/process/status", headers=who.headers).json()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Gate:
    """Holds the big file's embedding calls until the test lets a given number through."""

    def __init__(self) -> None:
        self.passes = threading.Semaphore(0)

    def allow(self, calls: int = 1) -> None:
        for _ in range(calls):
            self.passes.release()


@pytest.fixture
def gated(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> Iterator[tuple[TestClient, Account, Gate]]:
    client = make_client(remote_settings(make_settings, fake_upstream))
    admin = signup(client, "Admin")
    embedder = client.app.state.wayline.get(FilesRuntime).ingestion.embedder
    original = embedder.embed_documents
    gate = Gate()

    async def gated_embed(texts: Sequence[str]) -> list[list[float]]:
        if any(text.startswith("Section") for text in texts):
            import asyncio

            await asyncio.to_thread(gate.passes.acquire)
        return await original(texts)

    embedder.embed_documents = gated_embed
    try:
        yield client, admin, gate
    finally:
        gate.allow(1000)  # never leave a job blocked at shutdown
        embedder.embed_documents = original


def test_small_file_behind_a_big_one_completes_first(
    gated: tuple[TestClient, Account, Gate],
) -> None:
    client, admin, gate = gated
    big = upload(client, admin, "big.txt", BIG.encode()).json()["id"]
    wait_for(
        lambda: status(client, admin, big)["progress"]["total"] > 0, "the big file to be chunked"
    )
    total = status(client, admin, big)["progress"]["total"]
    assert total >= 250  # several embedding groups

    small = upload(client, admin, "small.txt", SMALL.encode()).json()["id"]
    queue = client.app.state.wayline.get(FilesRuntime).ingestion._embedding
    wait_for(
        lambda: any(SMALL in request.texts for request in queue._waiting),
        "the small file to queue for embedding while the big one is embedding",
    )
    gate.allow(1)  # the big file's first group goes through; the small file is next in line
    assert wait_done(client, admin, small)["status"] == "completed"
    behind = status(client, admin, big)
    assert behind["status"] == "processing" and 0 < behind["progress"]["done"] < total, behind

    gate.allow(1000)
    done = wait_done(client, admin, big)
    assert done["status"] == "completed" and done["progress"]["done"] == total
    assert len(chunks(client, big)) == total and len(chunks(client, small)) == 1


def test_transient_embedding_error_is_retried(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(remote_settings(make_settings, fake_upstream))
    admin = signup(client, "Admin")
    fake_upstream.fail(path="/v1/embeddings", status=503, message="model is loading", times=1)
    resp = upload(client, admin, "notes.txt", SMALL.encode(), process_in_background="false")
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["status"] == "completed"
    assert len(fake_upstream.requests_to("/v1/embeddings")) == 2  # the 503, then the retry
    assert [t for t, _ in chunks(client, resp.json()["id"])] == [SMALL]


def test_rate_limit_is_retried_after_the_upstream_says(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(remote_settings(make_settings, fake_upstream))
    admin = signup(client, "Admin")
    fake_upstream.fail(
        path="/v1/embeddings", status=429, message="slow down", retry_after=0, times=2
    )
    file_id = upload(client, admin, "notes.txt", SMALL.encode()).json()["id"]
    assert wait_done(client, admin, file_id)["status"] == "completed"
    assert len(fake_upstream.requests_to("/v1/embeddings")) == 3


def test_persistent_transient_errors_fail_after_the_configured_attempts(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(remote_settings(make_settings, fake_upstream, RAG_EMBEDDING_RETRIES=3))
    admin = signup(client, "Admin")
    fake_upstream.fail(path="/v1/embeddings", status=502, message="bad gateway upstream")
    file_id = upload(client, admin, "notes.txt", SMALL.encode()).json()["id"]
    failed = wait_done(client, admin, file_id)
    assert failed["status"] == "failed" and "bad gateway upstream" in failed["error"]
    assert len(fake_upstream.requests_to("/v1/embeddings")) == 3
    assert chunks(client, file_id) == []


def test_permanent_embedding_error_fails_at_once_with_the_upstream_message(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(remote_settings(make_settings, fake_upstream))
    admin = signup(client, "Admin")
    fake_upstream.fail(
        path="/v1/embeddings", status=400, message="input is too long for this model"
    )
    file_id = upload(client, admin, "notes.txt", SMALL.encode()).json()["id"]
    failed = wait_done(client, admin, file_id)
    assert failed["status"] == "failed" and "input is too long for this model" in failed["error"]
    assert len(fake_upstream.requests_to("/v1/embeddings")) == 1
    full = client.get(f"/api/v1/files/{file_id}", headers=admin.headers).json()
    assert full["data"]["error"] == failed["error"]

    blobs = uploads_dir(client)
    resp = upload(client, admin, "again.txt", SMALL.encode(), process_in_background="false")
    assert "input is too long for this model" in resp.json()["detail"]
    assert len(fake_upstream.requests_to("/v1/embeddings")) == 2
    assert uploads_dir(client) == blobs  # the synchronous failure kept nothing
