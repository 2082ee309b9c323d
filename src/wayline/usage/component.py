"""Usage: the `UsageHub` every model call reports to (`core/usage.py`), the ledger that writes
its records in batches, the token metrics, and the reports' routes.

Started before the domains that call models, so they find the hub; its end (after the requests
in flight have finished) writes what is still queued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.core.state import AppState
from wayline.core.usage import UsageHub
from wayline.usage.ledger import Ledger
from wayline.usage.metrics import UsageMetrics
from wayline.usage.router import router

routers = [router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    hub = state.provide(UsageHub, UsageHub())
    settings = state.core.settings
    ledger = Ledger(
        state.core.db, capacity=settings.USAGE_QUEUE_SIZE, interval=settings.USAGE_FLUSH_INTERVAL
    )
    state.provide(Ledger, ledger)
    hub.register(ledger)
    hub.register(UsageMetrics())
    ledger.start()
    try:
        yield
    finally:
        await ledger.close()
