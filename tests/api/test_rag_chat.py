"""RAG in `/api/chat/completions`: `files` items reach the prompt, `sources` come back,
bad references are errors, and every kind of model (OpenAI, Ollama, function) gets the context."""

from __future__ import annotations

import pytest

from tests.api.test_retrieval import BREAD, ENGINE, ZEBRA, collection, upload, wait_done
from tests.conftest import signup
from tests.fakes.sse import events

UNIQUE = "The secret launch code for project Marmalade is PLUM-7741-ORCHID."
CHAT = "/api/chat/completions"


@pytest.fixture
def settings(gateway_settings):
    return gateway_settings


def ask(
    client,
    account,
    model: str,
    files: list,
    question: str = "What is the launch code for project Marmalade?",
    **extra,
):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "files": files,
        **extra,
    }
    return client.post(CHAT, json=body, headers=account.headers)


def sent_user_text(fake, path: str) -> str:
    return fake.last(path).json["messages"][-1]["content"]


@pytest.mark.parametrize(
    "model, path", [("gpt-4-turbo", "/v1/chat/completions"), ("llama3.1:latest", "/api/chat")]
)
def test_file_and_collection_reach_the_prompt_and_sources_name_the_file(
    client, alice, fake_upstream, model, path
):
    fid = upload(client, alice, "secrets.txt", f"{BREAD}\n\n{UNIQUE}")["id"]
    kid = collection(client, alice, fid, upload(client, alice, "engine.txt", ENGINE)["id"])
    for item in ({"type": "file", "id": fid}, {"type": "collection", "id": kid}):
        r = ask(client, alice, model, [item])
        assert r.status_code == 200, r.text
        body = r.json()
        assert next(iter(body)) == "sources" and body["choices"][0]["message"]["content"]
        source = body["sources"][0]
        assert source["source"]["id"] == item["id"] and source["source"]["type"] == item["type"]
        assert any(UNIQUE in d for d in source["document"])
        assert "secrets.txt" in {m["name"] for m in source["metadata"]}
        assert len(source["distances"]) == len(source["document"])
        prompt = sent_user_text(fake_upstream, path)
        assert (
            prompt.startswith("### Task:")
            and UNIQUE in prompt
            and '<source id="1" name="secrets.txt">' in prompt
        )
        assert prompt.endswith("What is the launch code for project Marmalade?")

        stream = ask(client, alice, model, [item], stream=True)
        assert stream.status_code == 200
        evts = events(stream.text)
        first = evts[0]
        assert (
            first["object"] == "chat.completion.chunk"
            and first["choices"] == []
            and first["id"]
            and first["model"]
        )
        assert first["sources"][0]["source"]["id"] == item["id"] and evts[-1] == "[DONE]"
        assert UNIQUE in sent_user_text(fake_upstream, path)


PIPE = """
class Pipe:
    def pipe(self, body: dict) -> str:
        return "SAW: " + body["messages"][-1]["content"]
"""


def test_function_models_get_the_context(client, admin, alice):
    r = client.post(
        "/api/v1/functions/create",
        headers=admin.headers,
        json={"id": "seer", "name": "Seer", "content": PIPE, "meta": {"description": "d"}},
    )
    assert r.status_code == 200, r.text
    client.post("/api/v1/functions/id/seer/toggle", headers=admin.headers)
    fid = upload(client, alice, "secrets.txt", UNIQUE)["id"]
    r = ask(client, alice, "seer", [{"type": "file", "id": fid}])
    assert r.status_code == 200, r.text
    assert (
        UNIQUE in r.json()["choices"][0]["message"]["content"]
        and r.json()["sources"][0]["source"]["id"] == fid
    )


def test_system_context_mode(make_client, gateway_settings, fake_upstream):
    client = make_client(gateway_settings.model_copy(update={"RAG_SYSTEM_CONTEXT": True}))
    admin = signup(client, "Admin")
    fid = upload(client, admin, "secrets.txt", UNIQUE)["id"]
    r = client.post(
        CHAT,
        headers=admin.headers,
        json={
            "model": "gpt-4-turbo",
            "files": [{"type": "file", "id": fid}],
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "launch code?"},
            ],
        },
    )
    assert r.status_code == 200, r.text
    sent = fake_upstream.last("/v1/chat/completions").json["messages"]
    assert (
        sent[0]["role"] == "system"
        and sent[0]["content"].startswith("Be brief.\n### Task:")
        and UNIQUE in sent[0]["content"]
    )
    assert sent[-1]["content"] == "launch code?"


def test_full_context_injects_whole_documents(client, alice, fake_upstream):
    filler = " ".join(f"Paragraph {i} talks about weather in town number {i}." for i in range(200))
    text = f"{UNIQUE}\n\n{filler}\n\nThe closing remark mentions a violet giraffe."
    fid = upload(client, alice, "long.txt", text)["id"]
    r = ask(
        client,
        alice,
        "gpt-4-turbo",
        [{"type": "file", "id": fid, "context": "full"}],
        question="launch code?",
    )
    assert r.status_code == 200, r.text
    source = r.json()["sources"][0]
    assert (
        "distances" not in source
        and len(source["document"]) == 1
        and "violet giraffe" in source["document"][0]
    )
    prompt = sent_user_text(fake_upstream, "/v1/chat/completions")
    assert UNIQUE in prompt and "violet giraffe" in prompt and "Paragraph 150" in prompt


def test_query_is_the_last_user_message(client, admin, alice, fake_upstream):
    client.post("/api/v1/retrieval/config/update", json={"TOP_K": 1}, headers=admin.headers)
    kid = collection(
        client,
        alice,
        *(upload(client, alice, n, t)["id"] for n, t in (("z.txt", ZEBRA), ("b.txt", BREAD))),
    )
    body = {
        "model": "gpt-4-turbo",
        "files": [{"type": "collection", "id": kid}],
        "messages": [
            {"role": "user", "content": "Tell me about the zebra convoy"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "How does sourdough bread rise?"},
        ],
    }
    r = client.post(CHAT, json=body, headers=alice.headers)
    assert r.json()["sources"][0]["document"] == [BREAD]
    sent = fake_upstream.last("/v1/chat/completions").json["messages"]
    assert BREAD in sent[-1]["content"] and sent[0]["content"] == "Tell me about the zebra convoy"


def test_bad_references_are_errors_and_never_reach_the_model(client, alice, bob, fake_upstream):
    fid = upload(client, alice, "secrets.txt", UNIQUE)["id"]
    kid = collection(client, alice, fid)
    failed = upload(client, alice, "empty.txt", " ", background=True)["id"]
    assert wait_done(client, alice, failed) == "failed"
    cases = [
        (alice, [{"type": "file", "id": "no-such-file"}], 404, "no-such-file"),
        (alice, [{"type": "collection", "id": "no-such-kb"}], 404, "no-such-kb"),
        (bob, [{"type": "file", "id": fid}], 404, fid),
        (bob, [{"type": "collection", "id": kid}], 404, kid),
        (alice, [{"type": "file", "id": failed}], 422, failed),
        (alice, [{"type": "file"}], 400, "files[0]"),
    ]
    for account, files, status, named in cases:
        r = ask(client, account, "gpt-4-turbo", files)
        assert r.status_code == status, (files, r.text)
        assert named in r.json()["detail"]
    assert fake_upstream.requests_to("/v1/chat/completions") == []


def test_sharing_a_collection_lets_another_user_chat_with_it(client, alice, bob, fake_upstream):
    fid = upload(client, alice, "secrets.txt", UNIQUE)["id"]
    kid = collection(client, alice, fid)
    assert ask(client, bob, "gpt-4-turbo", [{"type": "collection", "id": kid}]).status_code == 404
    client.post(
        f"/api/v1/knowledge/{kid}/access/update",
        headers=alice.headers,
        json={
            "access_grants": [
                {"principal_type": "user", "principal_id": bob.id, "permission": "read"}
            ]
        },
    )
    r = ask(client, bob, "gpt-4-turbo", [{"type": "collection", "id": kid}])
    assert r.status_code == 200 and UNIQUE in sent_user_text(fake_upstream, "/v1/chat/completions")


def test_race_large_file_added_at_once_is_found_by_the_next_chat(client, alice, fake_upstream):
    filler = "\n\n".join(
        f"Section {i}. The wind tunnel measured drag at Mach {i / 100:.2f} over the swept wing."
        for i in range(500)
    )
    fid = upload(client, alice, "big.txt", f"{filler}\n\n{UNIQUE}", background=True)["id"]
    kid = collection(client, alice)
    r = client.post(
        f"/api/v1/knowledge/{kid}/file/add", json={"file_id": fid}, headers=alice.headers
    )
    assert r.status_code == 200, (
        r.text
    )  # no "content is empty": the file is linked while it processes
    assert r.json()["files"][0]["status"] in ("pending", "processing")  # the race really happened
    r = ask(client, alice, "gpt-4-turbo", [{"type": "collection", "id": kid}])
    assert r.status_code == 200, r.text
    assert UNIQUE in sent_user_text(fake_upstream, "/v1/chat/completions")
    assert (
        client.get(f"/api/v1/files/{fid}/process/status", headers=alice.headers).json()["status"]
        == "completed"
    )


def test_file_still_processing_past_the_bound_is_409(make_client, gateway_settings, fake_upstream):
    # Embeddings come from the fake upstream, which is told to hang: the file stays `processing`.
    client = make_client(
        gateway_settings.model_copy(
            update={
                "RAG_EMBEDDING_ENGINE": "openai",
                "RAG_EMBEDDING_MODEL": "text-embedding-3-small",
                "RAG_OPENAI_API_BASE_URL": fake_upstream.openai_url,
                "RAG_OPENAI_API_KEY": "sk-fake-upstream",
                "KNOWLEDGE_ADD_WAIT_SECONDS": 0.3,
            }
        )
    )
    fake_upstream.fail(path="/v1/embeddings", mode="hang")
    admin = signup(client, "Admin")
    fid = upload(client, admin, "slow.txt", UNIQUE, background=True)["id"]
    r = ask(client, admin, "gpt-4-turbo", [{"type": "file", "id": fid}])
    assert r.status_code == 409 and fid in r.json()["detail"]
    kid = collection(client, admin, fid)  # linking a file that is still processing works
    r = ask(client, admin, "gpt-4-turbo", [{"type": "collection", "id": kid}])
    assert (
        r.status_code == 200 and r.json()["sources"] == []
    )  # nothing ready yet: no context, no error
    assert (
        fake_upstream.last("/v1/chat/completions")
        .json["messages"][-1]["content"]
        .startswith("What is")
    )


def test_admin_rag_template_is_used(client, admin, alice, fake_upstream):
    r = client.post(
        "/api/v1/retrieval/config/update",
        headers=admin.headers,
        json={"RAG_TEMPLATE": "Answer {{QUERY}} from:\n{{CONTEXT}}\nDone."},
    )
    assert r.status_code == 200
    fid = upload(client, alice, "secrets.txt", UNIQUE)["id"]
    assert (
        ask(
            client, alice, "gpt-4-turbo", [{"type": "file", "id": fid}], question="code?"
        ).status_code
        == 200
    )
    assert sent_user_text(fake_upstream, "/v1/chat/completions") == (
        f'Answer code? from:\n<source id="1" name="secrets.txt">{UNIQUE}</source>\n\nDone.\ncode?'
    )
