"""The usage ledger (issue 12): one record per model call, with the upstream's own token counts,
written in batches, and read back through `GET /api/v1/usage` and `GET /api/v1/usage/all`.

Expected counts come from the fake upstream's own rules (`tests/fakes/upstream.py`): the prompt
is the messages' words, the answer `Echo: <last user message>` one token per word.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.fakes.media import wav_for
from tests.fakes.upstream import FakeUpstream, _reply_tokens, message_text
from wayline.core.settings import Settings

MESSAGES = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "Why is the sky blue today?"},
]


@pytest.fixture
def settings(make_settings, fake_upstream: FakeUpstream) -> Settings:
    return make_settings(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
        MODELS_CACHE_TTL=0,
        ENABLE_IMAGE_GENERATION=True,
        IMAGES_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        IMAGE_GENERATION_MODEL="dall-e-3",
        AUDIO_STT_ENGINE="openai",
        AUDIO_STT_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        AUDIO_STT_MODEL="whisper-1",
        USAGE_FLUSH_INTERVAL=0.2,
    )


def expected(messages: list[dict[str, Any]] = MESSAGES) -> tuple[int, int]:
    """(prompt, completion) tokens as the fake upstream counts them."""
    prompt = sum(len(message_text(m).split()) for m in messages)
    tokens, _ = _reply_tokens({"messages": messages})
    return prompt, len(tokens)


def report(client: TestClient, account: Account, path: str = "/api/v1/usage", **params: Any):
    resp = client.get(path, params=params, headers=account.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def settled(
    client: TestClient, account: Account, requests: int, path: str = "/api/v1/usage", **params: Any
) -> dict[str, Any]:
    """The report once `requests` calls have reached the ledger (written in batches)."""
    deadline = time.monotonic() + 10
    while True:
        body = report(client, account, path, **params)
        if body["totals"]["requests"] >= requests or time.monotonic() > deadline:
            assert body["totals"]["requests"] == requests, body
            return body
        time.sleep(0.05)


def sse_chunks(text: str) -> list[Any]:
    events = [e for e in text.split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    return [orjson.loads(e.removeprefix("data: ")) for e in events[:-1]]


def chat(client: TestClient, account: Account, model: str, stream: bool, **extra: Any):
    resp = client.post(
        "/api/chat/completions",
        json={"model": model, "messages": MESSAGES, "stream": stream, **extra},
        headers=account.headers,
    )
    assert resp.status_code == 200, resp.text
    return resp


def by(body: dict[str, Any], field: str) -> dict[Any, dict[str, Any]]:
    return {row[field]: row for row in body["data"]}


# --- counts ---------------------------------------------------------------------------------


def test_openai_chat_counts_are_the_upstreams_stream_and_not(client, alice, fake_upstream):
    prompt, completion = expected()
    answer = chat(client, alice, "gpt-4o-mini", stream=False).json()
    assert answer["usage"]["prompt_tokens"] == prompt  # the fake's rule, as the test assumes

    streamed = chat(client, alice, "gpt-4o-mini", stream=True)
    # The client did not ask for usage: Wayline did, and took the answer's extra parts out.
    assert fake_upstream.last("/v1/chat/completions").json["stream_options"] == {
        "include_usage": True
    }
    chunks = sse_chunks(streamed.text)
    assert all(c["choices"] for c in chunks), "the usage-only chunk reached the client"
    assert all("usage" not in c for c in chunks), "a `usage` field reached the client"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == (
        "Echo: Why is the sky blue today?"
    )

    body = settled(client, alice, 2)
    assert body["totals"]["prompt_tokens"] == 2 * prompt
    assert body["totals"]["completion_tokens"] == 2 * completion
    assert body["totals"]["total_tokens"] == 2 * (prompt + completion)
    assert body["totals"]["errors"] == 0
    assert body["totals"]["average_latency_ms"] > 0
    assert by(body, "model")["gpt-4o-mini"]["requests"] == 2


def test_a_client_that_asks_for_stream_usage_gets_it(client, alice, fake_upstream):
    prompt, completion = expected()
    resp = chat(client, alice, "gpt-4o-mini", stream=True, stream_options={"include_usage": True})
    chunks = sse_chunks(resp.text)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    assert all(c["usage"] is None for c in chunks[:-1])  # as the upstream sent them
    totals = settled(client, alice, 1)["totals"]
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (prompt, completion)


def test_ollama_chat_counts_are_ollamas_final_counts(client, alice, fake_upstream):
    prompt, completion = expected()
    chat(client, alice, "llama3.1:latest", stream=False)
    streamed = chat(client, alice, "llama3.1:latest", stream=True)
    # Ollama's counts reach the client in the last chunk, as before: nothing is taken out.
    assert sse_chunks(streamed.text)[-1]["usage"]["prompt_tokens"] == prompt
    sent = fake_upstream.last("/api/chat").json
    assert "stream_options" not in sent
    body = settled(client, alice, 2, group_by="model")
    row = by(body, "model")["llama3.1:latest"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (2 * prompt, 2 * completion)


def test_openai_pass_through_chat_is_recorded(client, alice, fake_upstream):
    prompt, completion = expected()
    plain = client.post(
        "/openai/chat/completions",
        json={"model": "gpt-4-turbo", "messages": MESSAGES},
        headers=alice.headers,
    )
    assert plain.status_code == 200, plain.text
    streamed = client.post(
        "/openai/chat/completions",
        json={"model": "gpt-4-turbo", "messages": MESSAGES, "stream": True},
        headers=alice.headers,
    )
    assert streamed.status_code == 200, streamed.text
    chunks = sse_chunks(streamed.text)
    assert all(c["choices"] and "usage" not in c for c in chunks)
    body = settled(client, alice, 2)
    assert body["totals"]["prompt_tokens"] == 2 * prompt
    assert body["totals"]["completion_tokens"] == 2 * completion


def test_ollama_native_and_openai_style_routes_are_recorded(client, alice, fake_upstream):
    prompt, completion = expected()
    for stream in (False, True):
        resp = client.post(
            "/ollama/api/chat",
            json={"model": "llama3.1:latest", "messages": MESSAGES, "stream": stream},
            headers=alice.headers,
        )
        assert resp.status_code == 200, resp.text
    last = orjson.loads(resp.text.strip().splitlines()[-1])  # relayed untouched
    assert (last["prompt_eval_count"], last["eval_count"]) == (prompt, completion)

    # Ollama's OpenAI-compatible route (the fake answers it with its OpenAI dialect).
    fake_upstream.openai_models.append("llama3.1:latest")
    v1 = client.post(
        "/ollama/v1/chat/completions",
        json={"model": "llama3.1:latest", "messages": MESSAGES, "stream": True},
        headers=alice.headers,
    )
    assert v1.status_code == 200, v1.text
    assert all(c["choices"] and "usage" not in c for c in sse_chunks(v1.text))
    assert fake_upstream.last("/v1/chat/completions").json["stream_options"] == {
        "include_usage": True
    }

    # A completion (`/api/generate`) counts as generated text too.
    generated = client.post(
        "/ollama/api/generate",
        json={"model": "llama3.1:latest", "prompt": "Tell me a story", "stream": False},
        headers=alice.headers,
    )
    assert generated.status_code == 200, generated.text
    stats = generated.json()

    body = settled(client, alice, 4)
    assert body["totals"]["prompt_tokens"] == 3 * prompt + stats["prompt_eval_count"]
    assert body["totals"]["completion_tokens"] == 3 * completion + stats["eval_count"]
    assert stats["prompt_eval_count"] == 4  # the fake's rule: the prompt's words


def test_embeddings_images_and_transcriptions_are_recorded(client, alice, fake_upstream):
    texts = ["the quick brown fox", "jumps over the lazy dog today"]
    embedded = client.post(
        "/api/embeddings",
        json={"model": "text-embedding-3-small", "input": texts},
        headers=alice.headers,
    )
    assert embedded.status_code == 200, embedded.text
    ollama = client.post(
        "/ollama/api/embed",
        json={"model": "nomic-embed-text:latest", "input": texts},
        headers=alice.headers,
    )
    assert ollama.status_code == 200, ollama.text
    image = client.post(
        "/api/v1/images/generations", json={"prompt": "a red kite"}, headers=alice.headers
    )
    assert image.status_code == 200, image.text
    heard = client.post(
        "/api/v1/audio/transcriptions",
        files={"file": ("note.wav", wav_for("hello from the ledger"), "audio/wav")},
        headers=alice.headers,
    )
    assert heard.status_code == 200, heard.text

    rows = by(settled(client, alice, 4, group_by="model"), "model")
    words = sum(len(t.split()) for t in texts)
    assert rows["text-embedding-3-small"]["prompt_tokens"] == words  # the fake's usage
    assert rows["nomic-embed-text:latest"]["prompt_tokens"] == len(texts)  # prompt_eval_count
    # No counts from these engines: estimated at four characters a token.
    assert rows["dall-e-3"]["prompt_tokens"] == -(-len("a red kite") // 4)
    assert rows["whisper-1"]["completion_tokens"] == -(-len(heard.json()["text"]) // 4)


def test_estimates_when_the_upstream_gives_no_counts_and_errors_are_counted(
    client, alice, fake_upstream
):
    # A legacy Ollama embedding answers with a vector only.
    legacy = client.post(
        "/ollama/api/embeddings",
        json={"model": "nomic-embed-text:latest", "prompt": "twelve chars"},
        headers=alice.headers,
    )
    assert legacy.status_code == 200, legacy.text
    fake_upstream.fail("gpt-4o-mini", status=500, times=10)
    failed = client.post(
        "/api/chat/completions",
        json={"model": "gpt-4o-mini", "messages": MESSAGES},
        headers=alice.headers,
    )
    assert failed.status_code >= 500
    rows = by(settled(client, alice, 2, group_by="model"), "model")
    assert rows["nomic-embed-text:latest"]["prompt_tokens"] == 3  # ceil(12 / 4)
    assert rows["nomic-embed-text:latest"]["errors"] == 0
    assert rows["gpt-4o-mini"]["errors"] == 1
    assert rows["gpt-4o-mini"]["total_tokens"] == 0


# --- reports ----------------------------------------------------------------------------------


def test_one_user_never_sees_anothers_usage(client, alice, bob, fake_upstream):
    chat(client, alice, "gpt-4o-mini", stream=False)
    settled(client, alice, 1)
    for group_by in ("model", "key", "day"):
        body = report(client, bob, group_by=group_by)
        assert body["data"] == [] and body["totals"]["requests"] == 0
    refused = client.get("/api/v1/usage/all", headers=bob.headers)
    assert refused.status_code == 401, refused.text
    assert "detail" in refused.json()
    assert client.get("/api/v1/usage").status_code == 401  # no credential at all


def test_admin_groups_by_user_key_model_and_day(client, admin, alice, bob, fake_upstream):
    prompt, completion = expected()
    chat(client, alice, "gpt-4o-mini", stream=False)
    chat(client, alice, "llama3.1:latest", stream=False)
    resp = client.post(  # alice again, signed in (JWT): no key
        "/api/chat/completions",
        json={"model": "gpt-4o-mini", "messages": MESSAGES},
        headers=alice.jwt_headers,
    )
    assert resp.status_code == 200, resp.text
    chat(client, bob, "gpt-4o-mini", stream=True)
    settled(client, admin, 4, "/api/v1/usage/all")

    users = by(report(client, admin, "/api/v1/usage/all"), "user_id")
    assert set(users) == {alice.id, bob.id}
    assert users[alice.id]["requests"] == 3 and users[bob.id]["requests"] == 1
    assert users[alice.id]["email"] == alice.email and users[bob.id]["name"] == "Bob"
    assert users[bob.id]["prompt_tokens"] == prompt
    assert users[bob.id]["completion_tokens"] == completion

    keys = report(client, admin, "/api/v1/usage/all", group_by="key")["data"]
    assert [row["api_key_id"] is None for row in keys] == [True, False, False]
    assert keys[0]["requests"] == 1  # alice's session
    assert sorted(row["requests"] for row in keys[1:]) == [1, 2]

    models = by(report(client, admin, "/api/v1/usage/all", group_by="model"), "model")
    assert {m: r["requests"] for m, r in models.items()} == {"gpt-4o-mini": 3, "llama3.1:latest": 1}

    days = report(client, admin, "/api/v1/usage/all", group_by="day")["data"]
    assert days == [{**days[0], "day": time.strftime("%Y-%m-%d", time.gmtime())}]
    assert days[0]["requests"] == 4

    # Alice's own view: her two keys' worth... one key and one session.
    own = report(client, alice, group_by="key")
    assert own["totals"]["requests"] == 3
    assert sorted((r["api_key_id"] is None, r["requests"]) for r in own["data"]) == [
        (False, 2),
        (True, 1),
    ]


def test_time_range_selects_calls_by_start(client, alice, fake_upstream):
    before = int(time.time())
    chat(client, alice, "gpt-4o-mini", stream=False)
    settled(client, alice, 1)
    assert (
        report(client, alice, **{"from": before, "to": int(time.time())})["totals"]["requests"] == 1
    )
    past = report(client, alice, **{"from": 0, "to": before - 1})
    assert past["totals"]["requests"] == 0 and (past["from"], past["to"]) == (0, before - 1)
    future = report(client, alice, **{"from": int(time.time()) + 3600})
    assert future["totals"]["requests"] == 0


def test_csv_with_accept_text_csv(client, admin, alice, fake_upstream):
    chat(client, alice, "gpt-4o-mini", stream=False)
    settled(client, alice, 1)
    resp = client.get(
        "/api/v1/usage",
        params={"group_by": "model"},
        headers={**alice.headers, "Accept": "text/csv"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    prompt, completion = expected()
    assert len(rows) == 1
    assert rows[0]["model"] == "gpt-4o-mini"
    assert (int(rows[0]["prompt_tokens"]), int(rows[0]["completion_tokens"])) == (
        prompt,
        completion,
    )
    assert list(rows[0]) == [
        "model",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "errors",
        "average_latency_ms",
    ]
    everyone = client.get(
        "/api/v1/usage/all", headers={**admin.headers, "Accept": "text/csv"}
    ).text.splitlines()
    assert everyone[0].startswith("user_id,name,email,requests")
    assert everyone[1].startswith(f"{alice.id},Alice,{alice.email},1,")


@pytest.mark.parametrize(
    ("path", "params", "status", "named"),
    [
        ("/api/v1/usage", {"group_by": "user"}, 400, "group_by"),
        ("/api/v1/usage/all", {"group_by": "week"}, 400, "group_by"),
        ("/api/v1/usage", {"from": 100, "to": 50}, 400, "from"),
        ("/api/v1/usage", {"from": -1}, 422, "from"),
        ("/api/v1/usage", {"to": "yesterday"}, 422, "to"),
        ("/api/v1/usage", {"to": 10**20}, 422, "to"),
    ],
)
def test_bad_parameters_are_refused_by_name(client, admin, path, params, status, named):
    resp = client.get(path, params=params, headers=admin.headers)
    assert resp.status_code == status, resp.text
    assert named in str(resp.json()["detail"])


def sse_data(text: str) -> list[dict[str, Any]]:
    """The JSON data of every event of a stream (named events included)."""
    out = []
    for event in text.split("\n\n"):
        for line in event.splitlines():
            if line.startswith("data: {"):
                out.append(orjson.loads(line.removeprefix("data: ")))
    return out


def test_responses_and_messages_apis_are_recorded(client, alice, fake_upstream):
    question = "Why is the sky blue today?"
    counts = []
    # The Responses API, natively on the OpenAI connection: JSON, then a stream.
    plain = client.post(
        "/openai/responses", json={"model": "gpt-4o-mini", "input": question}, headers=alice.headers
    )
    assert plain.status_code == 200, plain.text
    counts.append((plain.json()["usage"]["input_tokens"], plain.json()["usage"]["output_tokens"]))
    streamed = client.post(
        "/openai/responses",
        json={"model": "gpt-4o-mini", "input": question, "stream": True},
        headers=alice.headers,
    )
    assert streamed.status_code == 200, streamed.text
    [done] = [e for e in sse_data(streamed.text) if e.get("type") == "response.completed"]
    counts.append(
        (done["response"]["usage"]["input_tokens"], done["response"]["usage"]["output_tokens"])
    )
    # An Ollama model through /openai/responses: translated to Chat Completions and back.
    translated = client.post(
        "/openai/responses",
        json={"model": "llama3.1:latest", "input": question},
        headers=alice.headers,
    )
    assert translated.status_code == 200, translated.text
    assert fake_upstream.last("/api/chat")  # answered by Ollama's chat
    counts.append(expected([{"role": "user", "content": question}]))
    # The Messages API, natively on Ollama, streamed: counts in two parts (start, delta).
    messages = client.post(
        "/ollama/v1/messages",
        json={
            "model": "llama3.1:latest",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": question}],
            "stream": True,
        },
        headers=alice.headers,
    )
    assert messages.status_code == 200, messages.text
    events = sse_data(messages.text)
    [start] = [e for e in events if e.get("type") == "message_start"]
    [delta] = [e for e in events if e.get("type") == "message_delta"]
    counts.append((start["message"]["usage"]["input_tokens"], delta["usage"]["output_tokens"]))

    totals = settled(client, alice, 4)["totals"]
    assert all(prompt and completion for prompt, completion in counts)
    assert totals["prompt_tokens"] == sum(p for p, _ in counts)
    assert totals["completion_tokens"] == sum(c for _, c in counts)
