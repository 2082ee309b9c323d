"""The seed's RAG flow, run as written (its curl commands and Python functions, only the
host changed) against a real `wayline serve` in front of the fake upstream: upload →
create collection → add → chat with the file → chat with the collection, stream and
non-stream, API key and JWT; and the official `openai` SDK streaming a RAG answer."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest
import requests

from tests.conftest import LiveServer
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

UNIQUE = (
    "The lighthouse keeper of Port Quillon logs every passing ship in a ledger bound with green "
    "sealskin."
)
FILLER = "\n\n".join(
    f"Note {i}: the harbour tide table for day {i} lists two high waters." for i in range(60)
)


@pytest.fixture
def server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
    )


# --- the seed's Python snippets, verbatim but for the host ---------------------------------
def make_snippets(base: str) -> dict[str, Callable]:
    def upload_file(token, file_path):
        url = f"{base}/api/v1/files/"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        files = {"file": open(file_path, "rb")}  # noqa: SIM115 -- the seed's snippet, verbatim
        response = requests.post(url, headers=headers, files=files)
        return response.json()

    def add_file_to_knowledge(token, knowledge_id, file_id):
        url = f"{base}/api/v1/knowledge/{knowledge_id}/file/add"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        data = {"file_id": file_id}
        response = requests.post(url, headers=headers, json=data)
        return response.json()

    def chat_with_file(token, model, query, file_id):
        url = f"{base}/api/chat/completions"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        payload = {
            "model": model,
            "messages": [{"role": "user", "content": query}],
            "files": [{"type": "file", "id": file_id}],
        }
        response = requests.post(url, headers=headers, json=payload)
        return response.json()

    def chat_with_collection(token, model, query, collection_id):
        url = f"{base}/api/chat/completions"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        payload = {
            "model": model,
            "messages": [{"role": "user", "content": query}],
            "files": [{"type": "collection", "id": collection_id}],
        }
        response = requests.post(url, headers=headers, json=payload)
        return response.json()

    return {
        f.__name__: f
        for f in (upload_file, add_file_to_knowledge, chat_with_file, chat_with_collection)
    }


def curl(*args: str) -> dict:
    proc = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def accounts(base: str) -> tuple[str, str]:
    with httpx.Client(base_url=base, timeout=30) as http:
        token = http.post(
            "/api/v1/auths/signup",
            json={"name": "Ada", "email": "ada@example.com", "password": "pw-ada-123"},
        ).json()["token"]
        key = http.post(
            "/api/v1/auths/api_key", headers={"Authorization": f"Bearer {token}"}
        ).json()["api_key"]
    return key, token


def prompt_sent(fake: FakeUpstream) -> str:
    return fake.last("/v1/chat/completions").json["messages"][-1]["content"]


def sse(lines: list[str]) -> list[dict | str]:
    out: list[dict | str] = []
    for line in lines:
        if line.startswith("data: "):
            out.append(line[6:] if line[6:] == "[DONE]" else json.loads(line[6:]))
    return out


def test_seed_rag_flow(server: LiveServer, fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    base = server.url
    api_key, jwt = accounts(base)
    seed = make_snippets(base)
    doc = tmp_path / "lighthouse.txt"
    doc.write_text(f"{FILLER}\n\n{UNIQUE}\n")

    # Upload, both ways the seed shows (curl and Python); processing runs in the background.
    curl_file = curl(
        "-X",
        "POST",
        "-H",
        f"Authorization: Bearer {api_key}",
        "-H",
        "Accept: application/json",
        "-F",
        f"file=@{doc}",
        f"{base}/api/v1/files/",
    )
    py_file = seed["upload_file"](jwt, str(doc))
    assert curl_file["filename"] == py_file["filename"] == "lighthouse.txt"
    file_id = py_file["id"]

    knowledge = requests.post(
        f"{base}/api/v1/knowledge/create",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"name": "Harbour", "description": "Port Quillon records"},
    ).json()
    # Added at once, while the file may still be processing: linked, not refused.
    added = curl(
        "-X",
        "POST",
        f"{base}/api/v1/knowledge/{knowledge['id']}/file/add",
        "-H",
        f"Authorization: Bearer {api_key}",
        "-H",
        "Content-Type: application/json",
        "-d",
        json.dumps({"file_id": curl_file["id"]}),
    )
    assert [f["id"] for f in added["files"]] == [curl_file["id"]]
    # The Python snippet adds the same text again: Open WebUI's duplicate-content refusal, or
    # (if the first is still processing, so its hash is unknown) a link that retrieval
    # de-duplicates.
    second = seed["add_file_to_knowledge"](jwt, knowledge["id"], file_id)
    assert "files" in second or second == {
        "detail": "Duplicate content detected. Please provide unique content to proceed."
    }

    query = "Who logs every passing ship at Port Quillon?"
    for token in (api_key, jwt):
        answer = seed["chat_with_file"](token, "gpt-4-turbo", query, file_id)
        assert answer["choices"][0]["message"]["content"].startswith("Echo:")
        assert UNIQUE in prompt_sent(fake_upstream)
        assert answer["sources"][0]["source"]["id"] == file_id
        assert answer["sources"][0]["metadata"][0]["name"] == "lighthouse.txt"

        answer = seed["chat_with_collection"](token, "gpt-4-turbo", query, knowledge["id"])
        assert UNIQUE in prompt_sent(fake_upstream)
        names = {m["name"] for s in answer["sources"] for m in s["metadata"]}
        assert answer["sources"][0]["source"]["id"] == knowledge["id"] and names == {
            "lighthouse.txt"
        }
        # Identical content linked twice is not sent twice.
        assert prompt_sent(fake_upstream).count(UNIQUE) == 1

    # The seed's curl chat commands, non-stream and stream.
    for item in ({"type": "file", "id": file_id}, {"type": "collection", "id": knowledge["id"]}):
        body = {
            "model": "gpt-4-turbo",
            "messages": [{"role": "user", "content": query}],
            "files": [item],
        }
        answer = curl(
            "-X",
            "POST",
            f"{base}/api/chat/completions",
            "-H",
            f"Authorization: Bearer {api_key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(body),
        )
        assert answer["sources"][0]["source"]["id"] == item["id"]
        with requests.post(
            f"{base}/api/chat/completions",
            headers={"Authorization": f"Bearer {jwt}"},
            json={**body, "stream": True},
            stream=True,
        ) as resp:
            assert resp.status_code == 200 and resp.headers["content-type"].startswith(
                "text/event-stream"
            )
            events = sse([line for line in resp.iter_lines(decode_unicode=True) if line])
        first = events[0]
        assert first["object"] == "chat.completion.chunk" and first["choices"] == []
        assert first["sources"][0]["source"]["id"] == item["id"] and events[-1] == "[DONE]"
        assert "".join(
            e["choices"][0]["delta"].get("content") or ""
            for e in events[1:-1]
            if isinstance(e, dict) and e["choices"]
        ).startswith("Echo:")
        assert UNIQUE in prompt_sent(fake_upstream)

    # Strict client: the official SDK streams a RAG answer without tripping on the sources event.
    sdk = openai.OpenAI(base_url=f"{base}/api", api_key=api_key, max_retries=0)
    stream = sdk.chat.completions.create(
        model="gpt-4-turbo",
        messages=[{"role": "user", "content": query}],
        stream=True,
        extra_body={"files": [{"type": "collection", "id": knowledge["id"]}]},
    )
    text = "".join((chunk.choices[0].delta.content or "") for chunk in stream if chunk.choices)
    assert text.startswith("Echo:") and UNIQUE in prompt_sent(fake_upstream)
    done = sdk.chat.completions.create(
        model="gpt-4-turbo",
        messages=[{"role": "user", "content": query}],
        extra_body={"files": [{"type": "file", "id": file_id}]},
    )
    assert done.choices[0].message.content.startswith("Echo:")
    assert (done.model_extra or {})["sources"][0]["source"]["id"] == file_id


def test_concurrent_adds_into_one_collection(server: LiveServer) -> None:
    """Many clients adding files to one collection at once: every add succeeds (SQLite write
    transactions start with the collection's row lock, so none fails with "database is locked")."""
    from concurrent.futures import ThreadPoolExecutor

    api_key, _ = accounts(server.url)
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
        ids = [
            http.post(
                "/api/v1/files/?process_in_background=false",
                files={
                    "file": (
                        f"n{i}.txt",
                        f"Note {i}: unique fact number {i} about tides.".encode(),
                        "text/plain",
                    )
                },
            ).json()["id"]
            for i in range(16)
        ]
        kid = http.post(
            "/api/v1/knowledge/create", json={"name": "busy", "description": ""}
        ).json()["id"]

    def add(file_id: str) -> int:
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
            return http.post(
                f"/api/v1/knowledge/{kid}/file/add", json={"file_id": file_id}
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(add, ids))
    assert statuses == [200] * len(ids)
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        assert http.get(f"/api/v1/knowledge/{kid}/files").json()["total"] == len(ids)
