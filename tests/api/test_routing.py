"""Routing one model over several connections: retries before the first byte, cooldowns,
fallbacks, the routing strategies and `GET /api/v1/connections/health` (providers/routing.py).

Two fake upstreams serve the same models: `fake_upstream` is connection 0 ("A"), and
`second_upstream` connection 1 ("B"), of each kind."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.conftest import Account, signup
from tests.fakes.sse import events
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings

CHAT = "/v1/chat/completions"
HEALTH = "/api/v1/connections/health"
QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture
def two(
    fake_upstream: FakeUpstream, second_upstream: FakeUpstream
) -> tuple[FakeUpstream, FakeUpstream]:
    return fake_upstream, second_upstream


@pytest.fixture
def routed(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    two: tuple[FakeUpstream, FakeUpstream],
) -> Callable[..., tuple[TestClient, Account]]:
    """A gateway whose OpenAI and Ollama connections are A then B; returns it and its admin."""
    a, b = two

    def start(**overrides: Any) -> tuple[TestClient, Account]:
        values: dict[str, Any] = {
            "OPENAI_API_BASE_URLS": f"{a.openai_url};{b.openai_url}",
            "OPENAI_API_KEYS": "sk-a;sk-b",
            "OLLAMA_BASE_URLS": f"{a.ollama_url};{b.ollama_url}",
            **overrides,
        }
        client = make_client(make_settings(**values))
        admin = signup(client, "Admin")
        # The model lists are read once, before a test scripts failures on every path.
        assert client.get("/api/models", headers=admin.headers).status_code == 200
        return client, admin

    return start


def chat(client: TestClient, account: Account, model: str = "gpt-4o-mini", **body: Any) -> Any:
    return client.post(
        "/api/chat/completions",
        headers=account.headers,
        json={"model": model, "messages": QUESTION, **body},
    )


def calls(fake: FakeUpstream, path: str = CHAT) -> int:
    return len(fake.requests_to(path))


def answered_in_full(resp: Any, stream: bool) -> bool:
    if resp.status_code != 200:
        return False
    if not stream:
        return bool(resp.json()["choices"][0]["message"]["content"] == "Echo: Why is the sky blue?")
    evts = events(resp.text)
    text = "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in evts
        if isinstance(e, dict) and e.get("choices")
    )
    return evts[-1] == "[DONE]" and text == "Echo: Why is the sky blue?"


def metric(name: str, **labels: str) -> float:
    """A sample of this process's Prometheus registry (what `/metrics` exports)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def deployments(client: TestClient, admin: Account, model: str) -> dict[int, dict[str, Any]]:
    """The health rows of `model`'s OpenAI deployments, by connection index."""
    resp = client.get(HEALTH, headers=admin.headers)
    assert resp.status_code == 200, resp.text
    return {
        row["connection"]["index"]: row
        for row in resp.json()["deployments"]
        if row["model"] == model and row["connection"]["kind"] == "openai"
    }


@pytest.mark.parametrize("stream", [False, True])
def test_a_failing_deployment_is_retried_elsewhere_then_cooled_down(
    routed: Callable[..., tuple[TestClient, Account]],
    two: tuple[FakeUpstream, FakeUpstream],
    stream: bool,
) -> None:
    a, b = two
    client, admin = routed()
    cooldowns = metric("wayline_upstream_cooldowns_total", connection=f"openai[0] {a.openai_url}")
    a.fail(status=500, message="A is down")  # every path: its probe fails too, so it stays out
    for _ in range(60):  # until A has failed 3 of 3 (each call picks A or B at random)
        resp = chat(client, admin, stream=stream)
        assert answered_in_full(resp, stream), resp.text  # no error reaches the client
        if calls(a) >= 3:
            break
    assert calls(a) == 3

    rows = deployments(client, admin, "gpt-4o-mini")
    assert rows[0]["state"] == "cooling_down" and rows[0]["cooldown_reason"] == "failures"
    assert rows[0]["failures"] == 3 and rows[0]["error_rate"] == 1.0
    assert "A is down" in rows[0]["last_error"]
    assert rows[0]["cooldown_until"] > time.time() + 20  # UPSTREAM_COOLDOWN_SECONDS = 30
    assert rows[1]["state"] == "healthy" and rows[1]["cooldown_until"] is None
    assert metric("wayline_upstream_cooldowns_total", connection=f"openai[0] {a.openai_url}") == (
        cooldowns + 1
    )
    latency = {"connection": f"openai[1] {b.openai_url}", "model": "gpt-4o-mini"}
    assert metric("wayline_upstream_latency_seconds_count", **latency) >= rows[1]["requests"]

    served_by_b = calls(b)
    for _ in range(10):
        assert answered_in_full(chat(client, admin, stream=stream), stream)
    assert calls(a) == 3 and calls(b) == served_by_b + 10  # A's count stopped growing


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_no_retry_on_client_and_auth_errors(
    routed: Callable[..., tuple[TestClient, Account]],
    two: tuple[FakeUpstream, FakeUpstream],
    status: int,
) -> None:
    client, admin = routed()
    for fake in two:
        fake.fail("gpt-4o-mini", path=CHAT, status=status, message=f"refused with {status}")
    resp = chat(client, admin)
    assert resp.status_code == status and resp.json()["detail"] == f"refused with {status}"
    assert sum(calls(fake) for fake in two) == 1  # only one upstream call
    refused = [row for row in deployments(client, admin, "gpt-4o-mini").values()]
    cooling = [row["connection"]["index"] for row in refused if row["state"] == "cooling_down"]
    # 401/403/404 take the deployment out at once; 400/422 are the request's fault.
    assert len(cooling) == (1 if status in (401, 403, 404) else 0)


def test_retry_after_is_honoured_on_the_only_deployment(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(make_settings(OPENAI_API_BASE_URLS=fake_upstream.openai_url))
    admin = signup(client, "Admin")
    fake_upstream.fail("gpt-4o-mini", path=CHAT, status=429, retry_after=1, times=1)
    started = time.monotonic()
    resp = chat(client, admin)
    assert answered_in_full(resp, False), resp.text
    assert time.monotonic() - started >= 1.0  # it waited what the upstream asked
    assert calls(fake_upstream) == 2

    # Beyond 10 s it is the client's to wait: the 429 and its Retry-After are passed on at once.
    fake_upstream.fail("gpt-4o-mini", path=CHAT, status=429, retry_after=30, times=1)
    started = time.monotonic()
    resp = chat(client, admin)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    assert time.monotonic() - started < 5 and calls(fake_upstream) == 3


def test_a_rate_limited_deployment_yields_to_another_without_waiting(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, b = two
    client, admin = routed(OPENAI_API_CONFIGS=json.dumps({"1": {"weight": 0}}))  # A first
    a.fail("gpt-4o-mini", path=CHAT, status=429, retry_after=8, times=1)
    started = time.monotonic()
    assert answered_in_full(chat(client, admin), False)
    assert time.monotonic() - started < 5
    assert (calls(a), calls(b)) == (1, 1)


@pytest.mark.parametrize("model, path", [("gpt-4o-mini", CHAT), ("llama3.1:latest", "/api/chat")])
def test_a_stream_failing_before_its_first_byte_is_retried(
    routed: Callable[..., tuple[TestClient, Account]],
    two: tuple[FakeUpstream, FakeUpstream],
    model: str,
    path: str,
) -> None:
    a, b = two
    client, admin = routed()
    a.fail(model, path=path, mode="drop", after=0)  # 200, then closed before any byte
    for _ in range(40):
        resp = chat(client, admin, model, stream=True)
        assert answered_in_full(resp, True), resp.text
        if calls(a, path):
            break
    assert calls(a, path) >= 1 and calls(b, path) >= 1


@pytest.mark.parametrize("model, path", [("gpt-4o-mini", CHAT), ("llama3.1:latest", "/api/chat")])
def test_a_stream_failing_midway_is_not_retried(
    routed: Callable[..., tuple[TestClient, Account]],
    two: tuple[FakeUpstream, FakeUpstream],
    model: str,
    path: str,
) -> None:
    client, admin = routed()
    for fake in two:
        fake.fail(model, path=path, mode="drop", after=2)
    resp = chat(client, admin, model, stream=True)
    assert resp.status_code == 200
    evts = events(resp.text)
    assert evts[-1] == "[DONE]" and "error" in evts[-2]  # the client saw the failure
    assert sum(calls(fake, path) for fake in two) == 1  # and nothing was sent twice


def test_embeddings_are_retried_too(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, b = two
    client, admin = routed(OPENAI_API_CONFIGS=json.dumps({"1": {"weight": 0}}))  # A first
    a.fail("text-embedding-3-small", path="/v1/embeddings", status=503, times=1)
    resp = client.post(
        "/api/embeddings",
        headers=admin.headers,
        json={"model": "text-embedding-3-small", "input": ["a b"]},
    )
    assert resp.status_code == 200 and len(resp.json()["data"][0]["embedding"]) == 64
    assert (calls(a, "/v1/embeddings"), calls(b, "/v1/embeddings")) == (1, 1)


@pytest.mark.parametrize("stream", [False, True])
def test_the_pass_throughs_are_routed_too(
    routed: Callable[..., tuple[TestClient, Account]],
    two: tuple[FakeUpstream, FakeUpstream],
    stream: bool,
) -> None:
    """`/openai/...` and `/ollama/...` calls, in their own wire formats, go over the model's
    deployments like `/api/chat/completions`: A fails first (B's weight is 0), B answers."""
    a, b = two
    weights = json.dumps({"1": {"weight": 0}})  # A first
    client, admin = routed(OPENAI_API_CONFIGS=weights, OLLAMA_API_CONFIGS=weights)
    a.fail(status=503, times=4)
    body = {"messages": QUESTION, "stream": stream}
    openai = client.post(
        "/openai/chat/completions", headers=admin.headers, json={**body, "model": "gpt-4o-mini"}
    )
    assert answered_in_full(openai, stream), openai.text
    ollama = client.post(
        "/ollama/api/chat", headers=admin.headers, json={**body, "model": "llama3.1:latest"}
    )
    assert ollama.status_code == 200, ollama.text
    lines = [json.loads(line) for line in ollama.text.splitlines() if line.strip()]
    said = "".join(line["message"]["content"] for line in lines)
    assert said == "Echo: Why is the sky blue?" and lines[-1]["done"] is True
    embed = client.post(
        "/openai/embeddings",
        headers=admin.headers,
        json={"model": "text-embedding-3-small", "input": "a b"},
    )
    assert embed.status_code == 200, embed.text
    generate = client.post(
        "/ollama/api/generate",
        headers=admin.headers,
        json={"model": "llama3.1:latest", "prompt": "hi", "stream": stream},
    )
    assert generate.status_code == 200, generate.text
    # Each call went to A once (failing), then to B.
    assert (calls(a), calls(b)) == (1, 1)
    assert (calls(a, "/api/chat"), calls(b, "/api/chat")) == (1, 1)
    assert (calls(a, "/v1/embeddings"), calls(b, "/v1/embeddings")) == (1, 1)
    assert (calls(a, "/api/generate"), calls(b, "/api/generate")) == (1, 1)
    # A named connection (`url_idx`) is the caller's choice: its failure is the answer.
    a.fail(status=503, times=1)
    pinned = client.post(
        "/ollama/api/chat/0",
        headers=admin.headers,
        json={"model": "llama3.1:latest", "messages": QUESTION, "stream": False},
    )
    assert pinned.status_code == 503, pinned.text
    assert calls(b, "/api/chat") == 1


def test_weights_share_the_traffic(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, b = two
    client, admin = routed(OPENAI_API_CONFIGS=json.dumps({"0": {"weight": 0}}))
    for _ in range(8):
        assert answered_in_full(chat(client, admin), False)
    assert (calls(a), calls(b)) == (0, 8)  # weight 0: only when no other is healthy
    rows = deployments(client, admin, "gpt-4o-mini")
    assert rows[0]["connection"]["weight"] == 0 and rows[1]["connection"]["weight"] == 1
    assert rows[1]["requests"] == 8 and rows[1]["p50_latency_ms"] > 0


def test_least_busy_picks_the_idle_deployment(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    client, admin = routed(MODEL_ROUTING_STRATEGY="least-busy")
    for fake in two:
        fake.token_delay = 0.05  # a 100-token stream takes 5 s
    slow = threading.Thread(
        target=chat, args=(client, admin), kwargs={"stream": True, "max_tokens": 100}
    )
    slow.start()
    try:
        busy = None
        for _ in range(100):  # until the stream reached its upstream
            busy = next((f for f in two if calls(f)), None)
            if busy is not None:
                break
            time.sleep(0.02)
        assert busy is not None
        idle = two[1] if busy is two[0] else two[0]
        rows = deployments(client, admin, "gpt-4o-mini")
        assert sorted(row["in_flight"] for row in rows.values()) == [0, 1]
        for _ in range(5):
            assert answered_in_full(chat(client, admin), False)
        assert (calls(busy), calls(idle)) == (1, 5)  # every call went to the idle one
    finally:
        slow.join(30)
    rows = deployments(client, admin, "gpt-4o-mini")
    assert [row["in_flight"] for row in rows.values()] == [0, 0]  # the stream's end counted


def test_all_cooling_down_still_tries_the_least_recently_failed(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(make_settings(OPENAI_API_BASE_URLS=fake_upstream.openai_url))
    admin = signup(client, "Admin")
    fake_upstream.fail("gpt-4o-mini", path=CHAT, status=401, message="bad key", times=1)
    assert chat(client, admin).status_code == 401
    assert deployments(client, admin, "gpt-4o-mini")[0]["state"] == "cooling_down"
    # Its only deployment is out, yet the call is made rather than refused without trying;
    # having answered, it is back in rotation.
    assert answered_in_full(chat(client, admin), False) and calls(fake_upstream) == 2
    assert deployments(client, admin, "gpt-4o-mini")[0]["state"] == "healthy"


def test_a_probe_brings_a_recovered_deployment_back_early(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, _ = two
    client, admin = routed(UPSTREAM_COOLDOWN_SECONDS=9)  # probes every 3 s
    a.fail("gpt-4o-mini", path=CHAT, status=502, times=3)  # its model list stays fine
    for _ in range(60):
        assert answered_in_full(chat(client, admin), False)
        if calls(a) >= 3:
            break
    row = deployments(client, admin, "gpt-4o-mini")[0]
    assert row["state"] == "cooling_down"
    until = row["cooldown_until"]
    while time.time() < until - 1:
        if deployments(client, admin, "gpt-4o-mini")[0]["state"] == "healthy":
            break
        time.sleep(0.2)
    assert time.time() < until - 1, "the probe did not end the cooldown early"


def test_health_is_admin_only_and_shows_no_secrets(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    two: tuple[FakeUpstream, FakeUpstream],
) -> None:
    a, b = two
    with_credentials = b.openai_url.replace("http://", "http://user:url-secret@")
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=f"{a.openai_url};{with_credentials}",
            OPENAI_API_KEYS="sk-key-secret;",
            OLLAMA_BASE_URLS=a.ollama_url,
        )
    )
    admin = signup(client, "Admin")
    alice = signup(client, "Alice", admin=admin)
    assert client.get(HEALTH).status_code == 401
    refused = client.get(HEALTH, headers=alice.headers)
    assert refused.status_code in (401, 403) and refused.json()["detail"]

    resp = client.get(HEALTH, headers=admin.headers)
    assert resp.status_code == 200
    body = resp.json()
    assert body["strategy"] == "simple-shuffle" and body["cooldown_seconds"] == 30
    assert "secret" not in resp.text
    rows = [r for r in body["deployments"] if r["model"] == "gpt-4o-mini"]
    assert [r["connection"] for r in rows] == [
        {"kind": "openai", "index": 0, "url": a.openai_url, "weight": 1.0},
        {"kind": "openai", "index": 1, "url": b.openai_url, "weight": 1.0},
    ]
    assert rows[0] == {
        "connection": rows[0]["connection"],
        "model": "gpt-4o-mini",
        "upstream_model": "gpt-4o-mini",
        "state": "healthy",
        "requests": 0,
        "failures": 0,
        "error_rate": 0.0,
        "p50_latency_ms": None,
        "in_flight": 0,
        "cooldown_until": None,
        "cooldown_reason": None,
        "last_error": None,
    }
    ollama = [r for r in body["deployments"] if r["connection"]["kind"] == "ollama"]
    assert {r["model"] for r in ollama} == {
        "llama3.1:latest",
        "qwen2.5:0.5b",
        "nomic-embed-text:latest",
    }


def test_fallbacks_when_every_deployment_fails(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    client, admin = routed(MODEL_FALLBACKS=json.dumps({"gpt-4o-mini": ["gpt-4-turbo"]}))
    for fake in two:
        fake.fail("gpt-4o-mini", path=CHAT, status=500)
    for stream in (False, True):
        resp = chat(client, admin, stream=stream)
        assert answered_in_full(resp, stream), resp.text
    sent = [r.json["model"] for fake in two for r in fake.requests_to(CHAT)]
    assert sent.count("gpt-4-turbo") == 2 and sent.count("gpt-4o-mini") == 4


def test_a_fallback_the_caller_may_not_use_is_skipped(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, b = two
    client, admin = routed(
        MODEL_FALLBACKS=json.dumps({"gpt-4o-mini": ["bobs-llama", "gpt-4-turbo"]})
    )
    alice = signup(client, "Alice", admin=admin)
    bob = signup(client, "Bob", admin=admin)
    private = {
        "id": "bobs-llama",
        "base_model_id": "llama3.1:latest",
        "name": "Bob's",
        "params": {},
    }
    assert client.post("/api/v1/models/create", headers=bob.headers, json=private).is_success
    for fake in two:
        fake.fail("gpt-4o-mini", path=CHAT, status=503)

    resp = chat(client, alice)
    assert answered_in_full(resp, False) and resp.json()["model"] == "gpt-4-turbo"
    assert calls(a, "/api/chat") + calls(b, "/api/chat") == 0  # Bob's model was not used
    resp = chat(client, bob)  # Bob may use his own: it comes first
    assert answered_in_full(resp, False) and resp.json()["model"] == "bobs-llama"


def test_without_a_usable_fallback_the_models_own_error_stands(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    client, admin = routed(MODEL_FALLBACKS=json.dumps({"gpt-4o-mini": ["no-such-model"]}))
    for fake in two:
        fake.fail("gpt-4o-mini", path=CHAT, status=503, message="both down")
    resp = chat(client, admin)
    assert resp.status_code == 503 and resp.json()["detail"] == "both down"
    assert sum(calls(fake) for fake in two) == 2


def test_a_workspace_model_names_its_own_fallbacks(
    routed: Callable[..., tuple[TestClient, Account]], two: tuple[FakeUpstream, FakeUpstream]
) -> None:
    client, admin = routed()
    alice = signup(client, "Alice", admin=admin)
    preset = {
        "id": "careful",
        "base_model_id": "gpt-4o-mini",
        "name": "Careful",
        "params": {"fallbacks": ["llama3.1:latest"]},
    }
    assert client.post("/api/v1/models/create", headers=alice.headers, json=preset).is_success
    for fake in two:
        fake.fail("gpt-4o-mini", path=CHAT, status=500)
    resp = chat(client, alice, "careful")
    assert answered_in_full(resp, False), resp.text
    assert resp.json()["model"] == "llama3.1:latest"
    assert chat(client, alice).status_code == 500  # the base model itself has none
