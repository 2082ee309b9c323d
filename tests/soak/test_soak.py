"""The soak, short: ~10 users for ~10 s against a real `wayline serve`, on the test's database.

Same code and invariants as `python bench/soak.py` (see tests/soak/runner.py): no 5xx, no
transport error, every acknowledged upload settles (`completed`, or `failed` with an
error), no orphaned chunk/link/blob, no user ever sees another user's canary.
`WAYLINE_SOAK_USERS` / `WAYLINE_SOAK_SECONDS` scale it up. Runs on PostgreSQL when
`WAYLINE_TEST_DATABASE_URL` is set (the `database_url` fixture).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.soak.runner import SoakConfig, run_soak, server_env, server_log_errors

pytestmark = pytest.mark.e2e

USERS = int(os.environ.get("WAYLINE_SOAK_USERS", "10"))
SECONDS = float(os.environ.get("WAYLINE_SOAK_SECONDS", "10"))


async def test_many_users_at_once_nothing_lost_nothing_leaked(
    live_server_factory, fake_upstream, database_url
):
    live = live_server_factory(**server_env(fake_upstream.openai_url))
    data_dir = Path(live.env["DATA_DIR"])
    config = SoakConfig(users=USERS, seconds=SECONDS, settle_seconds=60, request_timeout=60)

    result = await run_soak(live.url, database_url, data_dir, config)

    port = live.url.rsplit(":", 1)[1]
    result.server_errors = server_log_errors(data_dir.parent / f"server-{port}.log")
    print(result.report())
    assert result.ok, result.report()
    assert result.metrics.statuses["upload"][200] >= USERS, "too little load to mean anything"
