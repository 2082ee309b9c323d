"""Revocation reaches every worker before its next request (Redis carries the message)."""

from __future__ import annotations

import time
import uuid

from tests.conftest import signup

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_revoking_a_key_on_one_worker_rejects_it_on_another(make_settings, make_client):
    prefix = f"wl-test-{uuid.uuid4().hex[:8]}"
    settings = dict(
        REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix, UVICORN_WORKERS=2, AUTH_CACHE_TTL=3600
    )
    worker_a = make_client(make_settings(**settings))
    worker_b = make_client(make_settings(**settings))
    admin = signup(worker_a, "Admin")
    key = worker_a.post(
        "/api/v1/auths/api_keys", json={"name": "k"}, headers=admin.jwt_headers
    ).json()
    headers = {"Authorization": f"Bearer {key['api_key']}"}

    # Both workers have the key cached (TTL one hour) ...
    assert worker_a.get("/api/v1/auths/", headers=headers).status_code == 200
    assert worker_b.get("/api/v1/auths/", headers=headers).status_code == 200
    # ... it is revoked through worker A ...
    assert (
        worker_a.delete(
            f"/api/v1/auths/api_keys/{key['id']}", headers=admin.jwt_headers
        ).status_code
        == 200
    )
    # ... and worker B refuses it on the next request (the message is delivered asynchronously,
    # so allow it a few event-loop turns, far below any cache TTL).
    for _ in range(50):
        if worker_b.get("/api/v1/auths/", headers=headers).status_code == 401:
            break
        time.sleep(0.02)
    assert worker_b.get("/api/v1/auths/", headers=headers).status_code == 401


def test_without_a_shared_bus_multi_worker_caching_is_off(make_settings, make_client):
    # Two workers, no Redis: nobody could tell worker B about a revocation, so it must not cache.
    worker_a = make_client(make_settings(UVICORN_WORKERS=2))
    worker_b = make_client(make_settings(UVICORN_WORKERS=2))
    admin = signup(worker_a, "Admin")
    assert worker_b.get("/api/v1/auths/", headers=admin.headers).status_code == 200
    worker_a.delete("/api/v1/auths/api_key", headers=admin.jwt_headers)
    assert worker_b.get("/api/v1/auths/", headers=admin.headers).status_code == 401
