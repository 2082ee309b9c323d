"""`GET /metrics` (issue 12): admins only; requests counted by route template and status; the
gateway's own overhead measured per proxied request, upstream waits excluded; ingestion metrics.

The metrics live in the test process (one registry for every app it starts), so each test
compares a scrape before with one after.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_files import chunks, upload
from tests.conftest import Account, signup
from tests.fakes.upstream import FakeUpstream
from wayline.app import create_app
from wayline.core.settings import Settings

CHAT = "/api/chat/completions"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def scrape(client: TestClient, admin: Account) -> Samples:
    resp = client.get("/metrics", headers=admin.headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def chat(
    client: TestClient, who: Account, *, path: str = CHAT, model: str = "gpt-4o-mini", **extra: Any
) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "Why is the sky blue?"}]}
    return client.post(path, json={**body, **extra}, headers=who.headers)


def test_only_an_admin_may_scrape(client: TestClient, admin: Account, alice: Account) -> None:
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and anonymous.json()["detail"]
    user = client.get("/metrics", headers=alice.headers)
    assert user.status_code == 401 and user.json()["detail"]  # Open WebUI's answer to a non-admin
    forged = client.get("/metrics", headers={"Authorization": "Bearer sk-not-a-key"})
    assert forged.status_code == 401 and forged.json()["detail"]
    for headers in (admin.headers, admin.jwt_headers, {"x-api-key": admin.api_key}):
        resp = client.get("/metrics", headers=headers)
        assert resp.status_code == 200, resp.text
        assert "# TYPE wayline_requests_total counter" in resp.text
    # What a Prometheus server asks for (OpenMetrics) is what it gets.
    om = client.get("/metrics", headers={**admin.headers, "Accept": "application/openmetrics-text"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")


def test_requests_are_counted_by_route_template_and_status(
    client: TestClient, admin: Account, alice: Account
) -> None:
    before = scrape(client, admin)
    for _ in range(5):
        assert chat(client, alice).status_code == 200
    assert chat(client, alice, model="no-such-model").status_code == 404
    assert chat(client, alice, path="/api/v1/chat/completions").status_code == 200
    missing = f"file-{uuid.uuid4().hex}"
    assert client.get(f"/api/v1/files/{missing}", headers=alice.headers).status_code == 404
    scanned = f"/wp-admin-{uuid.uuid4().hex}.php"
    assert client.get(scanned).status_code == 404
    after = scrape(client, admin)

    assert grew(before, after, "wayline_requests_total", route=CHAT, status="200") == 5
    assert grew(before, after, "wayline_requests_total", route=CHAT, status="404") == 1
    v1 = "/api/v1/chat/completions"
    assert grew(before, after, "wayline_requests_total", route=v1, status="200") == 1
    assert grew(before, after, "wayline_request_duration_seconds_count", route=CHAT) == 6
    assert grew(before, after, "wayline_request_duration_seconds_sum", route=CHAT) > 0
    files = "/api/v1/files/{file_id}"
    assert grew(before, after, "wayline_requests_total", route=files, status="404") == 1
    assert grew(before, after, "wayline_requests_total", route="unmatched", status="404") == 1
    # Label values are templates: no id, no path a client made up.
    labels = " ".join(v for _, pairs in after for _, v in pairs)
    assert missing not in labels and scanned not in labels


def test_overhead_is_the_request_less_its_upstream_waits(
    client: TestClient, admin: Account, alice: Account, fake_upstream: FakeUpstream
) -> None:
    before = scrape(client, admin)
    for _ in range(4):
        assert chat(client, alice).status_code == 200
    # Not proxied: no upstream was waited for, so no overhead sample.
    assert client.get("/api/v1/auths/", headers=alice.headers).status_code == 200
    after = scrape(client, admin)
    assert grew(before, after, "wayline_gateway_overhead_seconds_count") == 4
    overhead = grew(before, after, "wayline_gateway_overhead_seconds_sum")
    duration = grew(before, after, "wayline_request_duration_seconds_sum", route=CHAT)
    assert 0 < overhead < duration

    # Streams: the upstream takes 30 ms per frame (13 frames for 10 tokens): ~0.4 s a request,
    # all of it upstream time, which the overhead must leave out.
    fake_upstream.token_delay = 0.03
    before = after
    for _ in range(3):
        resp = chat(client, alice, stream=True, max_tokens=10)
        assert resp.status_code == 200 and resp.text.rstrip().endswith("[DONE]")
    after = scrape(client, admin)
    assert grew(before, after, "wayline_gateway_overhead_seconds_count") == 3
    overhead = grew(before, after, "wayline_gateway_overhead_seconds_sum")
    duration = grew(before, after, "wayline_request_duration_seconds_sum", route=CHAT)
    upstream_at_least = 3 * 12 * 0.03
    assert duration > upstream_at_least
    assert 0 < overhead < duration - upstream_at_least


@pytest.fixture
def remote_embedder(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> TestClient:
    return make_client(
        make_settings(
            RAG_EMBEDDING_ENGINE="openai",
            RAG_EMBEDDING_MODEL="text-embedding-3-small",
            RAG_OPENAI_API_BASE_URL=fake_upstream.openai_url,
            RAG_OPENAI_API_KEY="sk-fake-upstream",
        )
    )


def test_ingestion_metrics_follow_the_files(
    remote_embedder: TestClient, fake_upstream: FakeUpstream
) -> None:
    client = remote_embedder
    admin = signup(client, "Admin")
    text = "\n\n".join(f"Paragraph {i} on the rotor blades of gyroplanes. " * 40 for i in range(5))
    before = scrape(client, admin)
    done = upload(client, admin, "rotor.txt", text.encode(), process_in_background="false")
    assert done.status_code == 200, done.text
    after = scrape(client, admin)
    indexed = len(chunks(client, done.json()["id"]))
    assert indexed > 1
    assert grew(before, after, "wayline_ingestion_chunks_total") == indexed
    assert value(after, "wayline_ingestion_queue_depth") == 0

    # The embedding upstream hangs: two uploads wait in the queue until they are deleted.
    fake_upstream.fail(path="/v1/embeddings", mode="hang")
    waiting = [upload(client, admin, f"w{i}.txt", f"text {i}".encode()).json()["id"] for i in "ab"]
    stuck = scrape(client, admin)
    assert value(stuck, "wayline_ingestion_queue_depth") == 2
    for file_id in waiting:
        resp = client.delete(f"/api/v1/files/{file_id}", headers=admin.headers)
        assert resp.status_code == 200, resp.text
    emptied = scrape(client, admin)
    assert value(emptied, "wayline_ingestion_queue_depth") == 0
    assert grew(after, emptied, "wayline_ingestion_chunks_total") == 0


def test_a_server_error_is_counted_under_its_route(settings: Settings) -> None:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.router.add_api_route("/api/v1/metrics-test/{item}/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = signup(client, "Admin")
        before = scrape(client, admin)
        assert client.get("/api/v1/metrics-test/42/boom").status_code == 500
        after = scrape(client, admin)
    route = "/api/v1/metrics-test/{item}/boom"
    assert grew(before, after, "wayline_requests_total", route=route, status="500") == 1
