"""Per-key limits and scopes (issue 12), in memory (no `REDIS_URL`), through the real app in front
of the fake upstream: keys' limit fields, users' ceilings, scopes and model allow-lists for every
credential form, RPM/TPM/budget refusals in OpenAI's shape, and TPM settled with actual usage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from limits.aio.storage import RedisStorage
from prometheus_client import REGISTRY

from tests.conftest import Account
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings

CHAT = "/api/chat/completions"
REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT_FIELDS = (
    "rpm_limit",
    "tpm_limit",
    "max_parallel_requests",
    "token_budget",
    "budget_duration",
    "models",
    "scopes",
)


@pytest.fixture
def settings(request: pytest.FixtureRequest, gateway_settings: Settings) -> Iterator[Settings]:
    """The gateway in memory mode; parametrized `"redis"`, counting in Redis under a prefix of
    the test's own."""
    if getattr(request, "param", "memory") == "memory":
        yield gateway_settings
        return
    prefix = f"wl-limits-{uuid.uuid4().hex[:8]}"
    yield gateway_settings.model_copy(update={"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix})
    shared = redis.Redis.from_url(REDIS_URL)
    for key in shared.scan_iter(f"{prefix}:*"):
        shared.delete(key)
    shared.close()


BOTH_STORES = pytest.mark.parametrize("settings", ["memory", "redis"], indirect=True)


def create_key(client: TestClient, owner: Account, **fields: Any) -> dict[str, Any]:
    resp = client.post("/api/v1/auths/api_keys", headers=owner.jwt_headers, json=fields)
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['api_key']}"}


def chat(
    client: TestClient,
    headers: dict[str, str],
    model: str = "gpt-4o-mini",
    content: str = "hi",
    path: str = CHAT,
    **extra: Any,
) -> Any:
    return client.post(
        path,
        headers={**headers, "Content-Type": "application/json"},
        content=chat_body(model, content, **extra),
    )


def chat_body(model: str = "gpt-4o-mini", content: str = "hi", **extra: Any) -> bytes:
    return orjson.dumps(
        {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    )


def reserved(body: bytes) -> int:
    """The documented prompt estimate: a token per 4 bytes of the JSON body, rounded up."""
    return -(-len(body) // 4)


def set_user_limits(
    client: TestClient, admin: Account, user: Account, **fields: Any
) -> dict[str, Any]:
    resp = client.post(
        f"/api/v1/users/{user.id}/limits/update", headers=admin.jwt_headers, json=fields
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def assert_refused(resp: Any, status: int, *words: str) -> None:
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    for word in words:
        assert word in detail, (word, detail)


# --- fields ------------------------------------------------------------------------------------
def test_limit_fields_are_set_listed_and_updated_never_showing_the_secret(
    client: TestClient, alice: Account, bob: Account
) -> None:
    fields = {
        "rpm_limit": 60,
        "tpm_limit": 10_000,
        "max_parallel_requests": 2,
        "token_budget": 1_000_000,
        "budget_duration": "30d",
        "models": ["gpt-4o*", "llama3.1:latest"],
        "scopes": ["chat", "models"],
    }
    created = create_key(client, alice, name="ci", **fields)
    assert {f: created[f] for f in LIMIT_FIELDS} == fields
    assert created["api_key"].startswith("sk-")

    listed = client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
    mine = next(k for k in listed if k["id"] == created["id"])
    assert {f: mine[f] for f in LIMIT_FIELDS} == fields
    assert "api_key" not in mine and created["api_key"] not in str(listed)
    plain = next(k for k in listed if k["id"] != created["id"])  # the default key: no limits
    assert all(plain[f] is None for f in LIMIT_FIELDS)

    update = f"/api/v1/auths/api_keys/{created['id']}/update"
    resp = client.post(
        update, headers=alice.jwt_headers, json={"rpm_limit": 5, "models": None, "name": "ci-2"}
    )
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert updated["rpm_limit"] == 5 and updated["models"] is None and updated["name"] == "ci-2"
    assert updated["tpm_limit"] == 10_000 and updated["scopes"] == ["chat", "models"]  # kept
    assert "api_key" not in updated
    relisted = client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
    assert next(k for k in relisted if k["id"] == created["id"])["rpm_limit"] == 5

    # Bob cannot touch Alice's key, nor see it; an unknown id is named.
    resp = client.post(update, headers=bob.jwt_headers, json={"rpm_limit": 1000})
    assert_refused(resp, 404, created["id"])
    assert created["id"] not in str(client.get("/api/v1/auths/api_keys", headers=bob.jwt_headers))
    resp = client.post(
        "/api/v1/auths/api_keys/no-such-key/update", headers=alice.jwt_headers, json={}
    )
    assert_refused(resp, 404, "no-such-key")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rpm_limit": 0}, "rpm_limit"),
        ({"tpm_limit": -5}, "tpm_limit"),
        ({"max_parallel_requests": "many"}, "max_parallel_requests"),
        ({"budget_duration": "30 days"}, "budget_duration"),
        ({"budget_duration": "99999d"}, "budget_duration"),
        ({"scopes": ["chat", "everything"]}, "scopes"),
        ({"models": [""]}, "models"),
        ({"rpm_limt": 5}, "rpm_limt"),  # a misspelt field is an error, not silently dropped
    ],
)
def test_bad_limit_fields_are_refused_naming_the_field(
    client: TestClient, alice: Account, fields: dict[str, Any], field: str
) -> None:
    before = client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
    resp = client.post("/api/v1/auths/api_keys", headers=alice.jwt_headers, json=fields)
    assert resp.status_code == 422, resp.text
    assert field in str(resp.json()["detail"])
    assert client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json() == before


# --- user ceilings -----------------------------------------------------------------------------
def test_a_key_cannot_exceed_its_users_ceiling_and_inherits_its_defaults(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    assert client.get(f"/api/v1/users/{alice.id}/limits", headers=admin.jwt_headers).json() == {
        "user_id": alice.id,
        "updated_at": None,
        **dict.fromkeys(LIMIT_FIELDS),
    }
    saved = set_user_limits(
        client,
        admin,
        alice,
        rpm_limit=5,
        token_budget=100_000,
        budget_duration="1d",
        models=["gpt-*"],
        scopes=["chat", "models"],
    )
    assert saved["rpm_limit"] == 5 and saved["updated_at"] is not None
    own = client.get("/api/v1/users/user/limits", headers=alice.jwt_headers).json()
    assert own == saved

    too_much = [
        ({"rpm_limit": 6}, "rpm_limit"),
        ({"token_budget": 100_001}, "token_budget"),
        ({"budget_duration": "1h"}, "budget_duration"),  # renews sooner: spends faster
        ({"models": ["llama3.1:latest"]}, "models"),
        ({"models": ["*"]}, "models"),
        ({"scopes": ["files"]}, "scopes"),
    ]
    for fields, field in too_much:
        resp = client.post("/api/v1/auths/api_keys", headers=alice.jwt_headers, json=fields)
        assert_refused(resp, 400, field)
    key = create_key(client, alice, rpm_limit=3, models=["gpt-4o*"], budget_duration="7d")
    resp = client.post(
        f"/api/v1/auths/api_keys/{key['id']}/update",
        headers=alice.jwt_headers,
        json={"rpm_limit": 50},
    )
    assert_refused(resp, 400, "rpm_limit", "5")

    # Inherited: the default key (no limits of its own) and a session work under the user's.
    for headers in (alice.headers, alice.jwt_headers):
        resp = chat(client, headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-ratelimit-limit-requests"] == "5"
        assert_refused(client.get("/api/v1/files/", headers=headers), 403, "'files'")
    assert chat(client, bearer(key)).headers["x-ratelimit-limit-requests"] == "3"
    # A lowered ceiling holds the key that asked more before.
    set_user_limits(client, admin, alice, rpm_limit=2)
    assert chat(client, bearer(key)).headers["x-ratelimit-limit-requests"] == "2"

    # Only an admin sets limits; an unknown user is named.
    resp = client.post(
        f"/api/v1/users/{bob.id}/limits/update", headers=alice.jwt_headers, json={"rpm_limit": 1}
    )
    assert resp.status_code == 401
    assert (
        client.get(f"/api/v1/users/{bob.id}/limits", headers=alice.jwt_headers).status_code == 401
    )
    resp = client.post(
        "/api/v1/users/nobody/limits/update", headers=admin.jwt_headers, json={"rpm_limit": 1}
    )
    assert_refused(resp, 404, "nobody")
    resp = client.post(
        f"/api/v1/users/{bob.id}/limits/update",
        headers=admin.jwt_headers,
        json={"scopes": ["admin"]},
    )
    assert_refused(resp, 400, "admin")


# --- scopes ------------------------------------------------------------------------------------
def credential_forms(client: TestClient, secret: str) -> list[dict[str, str]]:
    """Bearer, the `x-api-key` header and the `token` cookie (set on the client, as a browser)."""
    return [{"Authorization": f"Bearer {secret}"}, {"x-api-key": secret}, {"cookie": secret}]


def send(client: TestClient, method: str, path: str, form: dict[str, str], **kw: Any) -> Any:
    client.cookies.clear()
    if "cookie" in form:
        client.cookies.set("token", form["cookie"])
        form = {}
    try:
        return client.request(method, path, headers=form, **kw)
    finally:
        client.cookies.clear()


def test_scopes_refuse_every_credential_form(
    client: TestClient, admin: Account, alice: Account, bob: Account, fake_upstream: FakeUpstream
) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    key = create_key(client, alice, scopes=["models"])
    refused = metric("wayline_ratelimit_rejections_total", kind="scope")
    for form in credential_forms(client, key["api_key"]):
        resp = send(client, "POST", CHAT, form, json=body)
        assert_refused(resp, 403, "'chat'")
        assert resp.json()["error"]["code"] == "missing_scope"
        assert_refused(send(client, "GET", "/api/v1/files/", form), 403, "'files'")
        assert_refused(send(client, "POST", "/ollama/api/chat", form, json=body), 403, "'ollama'")
        assert send(client, "GET", "/api/models", form).status_code == 200
        assert send(client, "GET", "/api/v1/auths/", form).status_code == 200  # the account
    assert metric("wayline_ratelimit_rejections_total", kind="scope") == refused + 9
    assert fake_upstream.requests_to("/v1/chat/completions") == []

    # A session follows its user's scopes (the cookie is a session here).
    set_user_limits(client, admin, bob, scopes=["models"])
    for form in ({"Authorization": f"Bearer {bob.token}"}, {"cookie": bob.token}):
        assert_refused(send(client, "POST", CHAT, form, json=body), 403, "'chat'")
    # An admin's key without the `admin` scope is refused admin routes; the session is not.
    admin_chat_key = create_key(client, admin, scopes=["chat"])
    assert_refused(client.get("/api/v1/users/", headers=bearer(admin_chat_key)), 403, "'admin'")
    assert client.get("/api/v1/users/", headers=admin.jwt_headers).status_code == 200
    # A user who is not an admin cannot ask for it.
    resp = client.post(
        "/api/v1/auths/api_keys", headers=alice.jwt_headers, json={"scopes": ["admin"]}
    )
    assert_refused(resp, 400, "admin")


def test_a_limited_key_cannot_manage_keys(client: TestClient, alice: Account) -> None:
    limited = bearer(create_key(client, alice, rpm_limit=100))

    def keys() -> list[tuple[str, str]]:
        listed = client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
        return [(k["id"], k["masked"]) for k in listed]

    before = keys()
    assert_refused(client.post("/api/v1/auths/api_keys", headers=limited, json={}), 403, "limits")
    assert_refused(client.post("/api/v1/auths/api_key", headers=limited), 403, "limits")
    some = before[0][0]
    assert_refused(client.delete(f"/api/v1/auths/api_keys/{some}", headers=limited), 403, "limits")
    assert keys() == before
    assert client.get("/api/v1/auths/api_keys", headers=limited).status_code == 200  # may list
    assert client.post("/api/v1/auths/api_keys", headers=alice.headers, json={}).status_code == 200


# --- model allow-lists -------------------------------------------------------------------------
def test_model_allow_list_refuses_every_credential_form_and_route(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    key = create_key(client, alice, models=["gpt-4o*"])
    chat_body = {"messages": [{"role": "user", "content": "hi"}]}
    for form in credential_forms(client, key["api_key"]):
        resp = send(client, "POST", CHAT, form, json={**chat_body, "model": "gpt-4o-mini"})
        assert resp.status_code == 200, resp.text
        refusals = [
            (CHAT, {**chat_body, "model": "gpt-4-turbo"}, "gpt-4-turbo"),
            ("/api/v1/chat/completions", {**chat_body, "model": "llama3.1"}, "llama3.1:latest"),
            ("/api/embeddings", {"model": "text-embedding-3-small", "input": "x"}, "text-emb"),
            ("/ollama/api/chat", {**chat_body, "model": "llama3.1"}, "llama3.1"),
            ("/ollama/api/embed", {"model": "nomic-embed-text", "input": "x"}, "nomic-embed"),
            ("/openai/chat/completions", {**chat_body, "model": "gpt-4-turbo"}, "gpt-4-turbo"),
            ("/api/v1/messages", {**chat_body, "model": "gpt-4-turbo", "max_tokens": 5}, "gpt-4-"),
        ]
        for path, body, named in refusals:
            resp = send(client, "POST", path, form, json=body)
            assert_refused(resp, 403, named, "not allowed")
    assert {r.json.get("model") for r in fake_upstream.requests if r.json} == {"gpt-4o-mini"}
    # The model list shows the key what it may call; the user's own session sees every model.
    listed = client.get("/api/models", headers=bearer(key)).json()["data"]
    assert [m["id"] for m in listed] == ["gpt-4o-mini"]
    assert len(client.get("/api/models", headers=alice.jwt_headers).json()["data"]) > 1
    # So do the pass-throughs' lists.
    openai_ids = [m["id"] for m in client.get("/openai/models", headers=bearer(key)).json()["data"]]
    assert openai_ids == ["gpt-4o-mini"]
    assert client.get("/ollama/api/tags", headers=bearer(key)).json()["models"] == []
    assert client.get("/ollama/v1/models", headers=bearer(key)).json()["data"] == []
    llama = create_key(client, alice, models=["llama3*"])
    tags = client.get("/ollama/api/tags", headers=bearer(llama)).json()["models"]
    assert tags and all(t["name"].startswith("llama3") for t in tags)
    everything = client.get("/ollama/api/tags", headers=alice.jwt_headers).json()["models"]
    assert len(everything) > len(tags)


# --- counters and refusals ---------------------------------------------------------------------
@BOTH_STORES
def test_rpm_refusal_is_openai_shaped_and_every_answer_carries_the_headers(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream, settings: Settings
) -> None:
    created = create_key(client, alice, rpm_limit=3, tpm_limit=100_000)
    key = bearer(created)
    first = chat(client, key)
    assert first.status_code == 200, first.text
    assert first.headers["x-ratelimit-limit-requests"] == "3"
    assert first.headers["x-ratelimit-remaining-requests"] == "2"
    assert first.headers["x-ratelimit-limit-tokens"] == "100000"
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 100_000  # the reservation
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    streamed = chat(client, key, stream=True)
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
    assert streamed.headers["x-ratelimit-remaining-requests"] == "1"
    native = chat(client, key, model="llama3.1", path="/ollama/api/chat", stream=False)
    assert native.status_code == 200 and native.headers["x-ratelimit-remaining-requests"] == "0"
    calls = len(fake_upstream.requests)

    rejected = metric("wayline_ratelimit_rejections_total", kind="rpm")
    for path, model in ((CHAT, "gpt-4o-mini"), ("/ollama/api/chat", "llama3.1")):
        resp = chat(client, key, model=model, path=path)
        assert resp.status_code == 429, resp.text
        body = resp.json()
        assert body["error"]["type"] == "rate_limit_exceeded"  # on Ollama's route too
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert body["error"]["message"] == body["detail"] and "3 per minute" in body["detail"]
        assert 1 <= int(resp.headers["retry-after"]) <= 60
        assert 0 < int(resp.headers["retry-after-ms"]) <= 60_000
        assert resp.headers["x-ratelimit-remaining-requests"] == "0"
        assert resp.headers["x-ratelimit-limit-requests"] == "3"
        assert "x-should-retry" not in resp.headers  # worth retrying, after retry-after
    assert len(fake_upstream.requests) == calls  # refused before the upstream
    assert metric("wayline_ratelimit_rejections_total", kind="rpm") == rejected + 2
    if settings.REDIS_URL:  # counted where every replica sees it, as the `limits` library keeps it
        storage = RedisStorage(
            f"async+{REDIS_URL}",
            implementation="redispy",
            key_prefix=f"{settings.REDIS_KEY_PREFIX}:limits",
        )
        found = asyncio.run(storage.get_sliding_window(f"rpm/k:{created['id']}", 60))
        assert found[0] + found[2] == 3  # the three answered; the refused were not counted
    # Other keys and the user's session are counted apart.
    assert chat(client, alice.headers).status_code == 200
    assert "x-ratelimit-limit-requests" not in chat(client, alice.headers).headers


@BOTH_STORES
def test_tpm_reservation_is_settled_with_the_actual_usage(
    client: TestClient, alice: Account
) -> None:
    key = bearer(create_key(client, alice, tpm_limit=300))
    padding = {"metadata": {"note": "x" * 760}}
    estimate = reserved(chat_body(**padding))
    assert 200 < estimate < 300
    first = chat(client, key, **padding)
    assert first.status_code == 200, first.text
    assert first.json()["usage"]["total_tokens"] == 3  # "hi" and "Echo: hi", by the fake
    assert first.headers["x-ratelimit-remaining-tokens"] == str(300 - estimate)  # while it ran
    # Unsettled, a second reservation would not fit in 300: the unused part came back.
    for _ in range(3):
        again = chat(client, key, **padding)
        assert again.status_code == 200, again.text
    after = chat(client, key)
    assert after.status_code == 200
    left = 300 - 4 * 3 - reserved(chat_body())  # four calls of 3 tokens, and this one's
    assert after.headers["x-ratelimit-remaining-tokens"] == str(left)

    # A stream is settled when it ends, with the usage the upstream reported in it.
    stream_key = bearer(create_key(client, alice, tpm_limit=300))
    streamed = chat(client, stream_key, stream=True, **padding)
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    held = reserved(chat_body(stream=True, **padding))
    assert streamed.headers["x-ratelimit-remaining-tokens"] == str(300 - held)
    after = chat(client, stream_key)
    assert after.headers["x-ratelimit-remaining-tokens"] == str(300 - 3 - reserved(chat_body()))

    # Usage larger than the estimate is charged in full: 200 one-letter words, echoed back.
    words = "a " * 200
    assert reserved(chat_body(content=words)) < 150
    big_key = bearer(create_key(client, alice, tpm_limit=1000))
    big = chat(client, big_key, content=words)
    used = big.json()["usage"]["total_tokens"]
    assert used > 400  # the upstream's count: well over the ~110 reserved
    next_small = chat(client, big_key)
    remaining = 1000 - used - reserved(chat_body())
    assert next_small.headers["x-ratelimit-remaining-tokens"] == str(remaining)


@BOTH_STORES
def test_tpm_refusal_names_what_the_request_needs(client: TestClient, alice: Account) -> None:
    key = bearer(create_key(client, alice, tpm_limit=100))
    assert chat(client, key, content="a " * 100).status_code == 200  # uses 201 of 100
    resp = chat(client, key)
    assert resp.status_code == 429, resp.text
    assert resp.json()["error"]["type"] == "rate_limit_exceeded"
    assert "tokens" in resp.json()["detail"] and resp.headers["x-ratelimit-remaining-tokens"] == "0"
    assert int(resp.headers["retry-after"]) >= 1


@BOTH_STORES
def test_budget_exhaustion_is_insufficient_quota_and_not_worth_retrying(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    key = bearer(create_key(client, alice, token_budget=50, budget_duration="1h"))
    first = chat(client, key, content="a " * 30)  # 30 + 31 tokens: over the budget by 11
    assert first.status_code == 200, first.text
    calls = len(fake_upstream.requests)
    for path, model in ((CHAT, "gpt-4o-mini"), ("/api/embeddings", "text-embedding-3-small")):
        body = {"model": model, "input": "x"} if "embeddings" in path else None
        resp = client.post(path, headers=key, json=body) if body else chat(client, key, path=path)
        assert resp.status_code == 429, resp.text
        error = resp.json()["error"]
        assert error["type"] == "insufficient_quota" and error["code"] == "insufficient_quota"
        assert "budget" in resp.json()["detail"] and "50 tokens per 1h" in resp.json()["detail"]
        assert resp.headers["x-should-retry"] == "false"
        assert int(resp.headers["retry-after"]) > 60  # renews within the hour, not at once
    assert len(fake_upstream.requests) == calls
    # Another key of the same user has its own budget.
    assert chat(client, alice.headers).status_code == 200


@BOTH_STORES
def test_parallel_limit_counts_requests_in_flight(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    """Sequential requests never hold two places: each gives its place back when it ends."""
    key = bearer(create_key(client, alice, max_parallel_requests=1))
    for stream in (False, True, False):
        assert chat(client, key, stream=stream).status_code == 200
    refused = chat(client, key, model="no-such-model")  # an error gives its place back too
    assert refused.status_code == 404
    assert chat(client, key).status_code == 200
