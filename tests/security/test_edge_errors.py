"""Issue 16, defect 13: errors OpenAI clients can read. On the OpenAI-compatible routes an
error carries OpenAI's `{"error": {"message", "type", "code", "param"}}` beside Open WebUI's
`detail` (auth and validation errors and the chat fast path included), and an answer an
immediate retry cannot fix says `x-should-retry: false`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from tests.api.test_retrieval import upload
from tests.conftest import LiveServer, signup
from tests.fakes.sse import events
from tests.fakes.upstream import FakeUpstream

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def settings(gateway_settings):
    return gateway_settings


def openai_error(resp: httpx.Response) -> dict:
    body = resp.json()
    assert "detail" in body, body  # Open WebUI's field stays
    return body["error"]


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/chat/completions", {**CHAT, "model": "no-such-model"}),  # the fast path
        ("POST", "/api/v1/chat/completions", {**CHAT, "model": "no-such-model"}),
        ("POST", "/api/embeddings", {"model": "no-such-model", "input": "x"}),
        ("POST", "/openai/chat/completions", {**CHAT, "model": "no-such-model"}),  # FastAPI routes
        ("POST", "/openai/embeddings", {"model": "no-such-model", "input": "x"}),
        ("POST", "/ollama/v1/chat/completions", {**CHAT, "model": "no-such-model"}),
    ],
)
def test_unknown_model_is_openai_shaped_404_everywhere(client, alice, method, path, body):
    resp = client.request(method, path, json=body, headers=alice.headers)
    assert resp.status_code == 404, resp.text
    assert resp.json()["detail"] == "Model 'no-such-model' was not found"
    assert openai_error(resp) == {
        "message": "Model 'no-such-model' was not found",
        "type": "invalid_request_error",
        "code": "model_not_found",
        "param": None,
    }
    assert resp.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("path", ["/api/models", "/api/v1/models", "/openai/models"])
@pytest.mark.parametrize("credential", [None, "sk-not-a-real-key"])
def test_auth_errors_are_openai_shaped(client, admin, path, credential):
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    resp = client.get(path, headers=headers)
    assert resp.status_code == 401, resp.text
    error = openai_error(resp)
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert error["message"] == resp.json()["detail"]


def test_a_pending_user_is_told_it_lacks_permission(client, admin):
    pending = signup(client, "Pending")  # default role: pending
    resp = client.post(
        "/api/chat/completions", headers=pending.jwt_headers, json={**CHAT, "model": "gpt-4-turbo"}
    )
    assert resp.status_code == 401 and openai_error(resp)["code"] == "insufficient_permissions"


def test_validation_errors_are_openai_shaped_and_not_retried(client, alice):
    resp = client.post(
        "/openai/chat/completions", json={"model": "gpt-4-turbo"}, headers=alice.headers
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == ["body", "messages"]  # FastAPI's list, as before
    error = openai_error(resp)
    assert error["code"] == "missing_required_parameter" and error["param"] == "messages"
    assert error["type"] == "invalid_request_error" and "messages" in error["message"]
    assert resp.headers["x-should-retry"] == "false"

    typed = client.post(
        "/openai/chat/completions",
        json={**CHAT, "model": "gpt-4-turbo", "stream": "often"},
        headers=alice.headers,
    )
    assert typed.status_code == 422 and openai_error(typed)["param"] == "stream"

    bad = client.post(
        "/api/chat/completions",
        json={"model": "gpt-4-turbo", "messages": "hi"},
        headers=alice.headers,
    )
    assert bad.status_code == 400 and openai_error(bad)["param"] == "messages"
    assert bad.headers["x-should-retry"] == "false"
    not_json = client.post(
        "/api/chat/completions",
        content=b"{nope",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and openai_error(not_json)["type"] == "invalid_request_error"


def test_upstream_errors_keep_the_upstreams_openai_fields(client, alice, fake_upstream):
    fake_upstream.fail("gpt-4o-mini", status=429, retry_after=3, message="slow down")
    resp = client.post(
        "/api/chat/completions", json={**CHAT, "model": "gpt-4o-mini"}, headers=alice.headers
    )
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert openai_error(resp) == {
        "message": "slow down",
        "type": "server_error",
        "code": "rate_limit_exceeded",
        "param": None,
    }
    assert "x-should-retry" not in resp.headers  # worth retrying after Retry-After


def test_other_routes_keep_open_webuis_shape(client, alice):
    resp = client.get("/api/v1/files/no-such-file", headers=alice.headers)
    assert resp.status_code == 404 and set(resp.json()) == {"detail"}


def test_a_failure_mid_stream_is_an_openai_error_event(make_settings, make_client, fake_upstream):
    client = make_client(
        make_settings(OPENAI_API_BASE_URLS=fake_upstream.openai_url, AIOHTTP_CLIENT_TIMEOUT=0.5)
    )
    admin = signup(client, "Admin")
    fake_upstream.fail("gpt-4o-mini", mode="drop", after=2)
    resp = client.post(
        "/api/chat/completions",
        json={**CHAT, "model": "gpt-4o-mini", "stream": True},
        headers=admin.headers,
    )
    evts = events(resp.text)
    assert evts[-1] == "[DONE]"
    error = evts[-2]["error"]
    assert error["type"] == "server_error" and error["code"] is None and error["param"] is None
    assert error["message"] == error["detail"] and "lost" in error["message"]


# --- the official SDK against a real server ---------------------------------------------------


@pytest.fixture
def rag_server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    # Embeddings come from the fake, told to hang: an uploaded file stays `processing`.
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        RAG_EMBEDDING_ENGINE="openai",
        RAG_EMBEDDING_MODEL="text-embedding-3-small",
        RAG_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        RAG_OPENAI_API_KEY="sk-fake-upstream",
        KNOWLEDGE_ADD_WAIT_SECONDS="0.2",
    )


def test_openai_sdk_reads_error_codes_and_does_not_retry_a_conflict(
    rag_server: LiveServer, fake_upstream: FakeUpstream
):
    with httpx.Client(base_url=rag_server.url, timeout=30) as http:
        admin = signup(http, "Admin")
    sent: list[str] = []
    counting = httpx.Client(
        event_hooks={"request": [lambda request: sent.append(request.url.path)]}, timeout=30
    )
    sdk = openai.OpenAI(
        base_url=f"{rag_server.url}/api", api_key=admin.api_key, http_client=counting, max_retries=2
    )

    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(model="no-such-model", messages=CHAT["messages"])
    assert missing.value.code == "model_not_found" and missing.value.type == "invalid_request_error"
    with pytest.raises(openai.AuthenticationError) as denied:
        openai.OpenAI(
            base_url=f"{rag_server.url}/api", api_key="sk-wrong", max_retries=0
        ).models.list()
    assert denied.value.code == "invalid_api_key"

    fake_upstream.fail(path="/v1/embeddings", mode="hang")
    with httpx.Client(base_url=rag_server.url, timeout=30) as http:
        file_id = upload(http, admin, "slow.txt", "still being embedded", background=True)["id"]
    sent.clear()
    with pytest.raises(openai.ConflictError) as conflict:
        sdk.chat.completions.create(
            model="gpt-4-turbo",
            messages=CHAT["messages"],
            extra_body={"files": [{"type": "file", "id": file_id}]},
        )
    assert file_id in conflict.value.message
    assert conflict.value.response.headers["x-should-retry"] == "false"
    assert sent == [
        "/api/chat/completions"
    ]  # one request: the SDK's own retries of a 409 were not made
    counting.close()
