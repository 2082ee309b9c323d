"""The `ollama` and `openai` embedding engines, against a fake upstream speaking the real wire
protocols."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_files import chunks, upload, wait_done
from tests.conftest import signup
from wayline.files.service import FilesRuntime


@pytest.mark.parametrize(
    ("engine", "model", "path"),
    [
        ("openai", "text-embedding-3-small", "/v1/embeddings"),
        ("ollama", "nomic-embed-text:latest", "/api/embed"),
    ],
)
def test_remote_engine_embeds_in_batches(
    make_settings, make_client, fake_upstream, engine: str, model: str, path: str
) -> None:
    settings = make_settings(
        RAG_EMBEDDING_ENGINE=engine,
        RAG_EMBEDDING_MODEL=model,
        RAG_EMBEDDING_BATCH_SIZE=4,
        RAG_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        RAG_OPENAI_API_KEY="sk-fake-upstream",
        RAG_OLLAMA_BASE_URL=fake_upstream.ollama_url,
    )
    client: TestClient = make_client(settings)
    admin = signup(client, "Admin")
    text = "\n\n".join(
        f"Paragraph {i} about rotor blades and their flapping hinges. " * 20 for i in range(6)
    )
    resp = upload(client, admin, "rotor.txt", text.encode(), process_in_background="false")
    assert resp.status_code == 200, resp.text
    rows = chunks(client, resp.json()["id"])
    assert len(rows) >= 6
    assert {m["embedding_config"]["engine"] for _, m in rows} == {engine}
    assert {m["embedding_config"]["model"] for _, m in rows} == {model}
    calls = fake_upstream.requests_to(path)
    assert calls and all(len(c.json["input"]) <= 4 for c in calls)
    assert sum(len(c.json["input"]) for c in calls) == len(rows)
    assert {c.json["model"] for c in calls} == {model}

    state = client.app.state.wayline
    files = state.get(FilesRuntime)

    async def search():
        async with state.core.db.sessionmaker() as session:
            query = await files.embedder.embed_query("Paragraph 3 about rotor blades")
            (best,) = await files.index.search(session, [resp.json()["id"]], query, 1)
            return (await files.index.fetch(session, [best.chunk_id]))[best.chunk_id]

    assert client.portal.call(search)[0].startswith("Paragraph 3")


def test_embedding_upstream_failure_marks_the_file_failed(
    make_settings, make_client, fake_upstream
) -> None:
    settings = make_settings(
        RAG_EMBEDDING_ENGINE="openai",
        RAG_EMBEDDING_MODEL="text-embedding-3-small",
        RAG_OPENAI_API_BASE_URL=fake_upstream.openai_url,
    )
    client: TestClient = make_client(settings)
    admin = signup(client, "Admin")
    fake_upstream.fail(path="/v1/embeddings", status=500, message="embedding backend down")
    file_id = upload(client, admin, "a.txt", b"some text to embed").json()["id"]
    status = wait_done(client, admin, file_id)
    assert status["status"] == "failed" and "embedding backend down" in status["error"]
    assert chunks(client, file_id) == []
    resp = upload(client, admin, "b.txt", b"more text", process_in_background="false")
    assert resp.status_code == 502 and "embedding backend down" in resp.json()["detail"]
    assert (
        client.get("/api/v1/files/", headers=admin.headers).json()["total"] == 1
    )  # only the background one
