"""Deployments: one model on one connection, the unit the router chooses (routing.py).

Each `Deployment` keeps, in this process, what traffic taught about it: requests in flight,
the outcomes of the last minute (one bucket per second, so recording is O(1) and the rate is
exact), the latencies of its last answers and its last error. These objects are the seam for a
`/metrics` exporter: read `Deployments.all()` and each one's `in_flight`, `window()`,
`p50_ms()`. Whether a deployment is cooling down is not here but on the `CooldownBoard`
(cooldowns.py), which every process shares.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wayline.core.metrics import UPSTREAM_LATENCY
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry

WINDOW_SECONDS = 60
LATENCY_SAMPLES = 128


def deployment_key(conn: Connection, model: str) -> str:
    """The name every process gives the deployment (the URL, not the index: it outlives a
    reordering of the connections, and it carries no credentials)."""
    return f"{conn.kind}|{conn.url}|{model}"


@dataclass(frozen=True)
class Window:
    """Outcomes over the last `WINDOW_SECONDS`."""

    requests: int
    failures: int

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(eq=False)
class Deployment:
    connection: Connection
    model: str  # the public id of the base model (presets share their base's deployments)
    key: str
    in_flight: int = 0
    last_failure: float = 0.0  # wall clock
    last_error: str = ""
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    # Per second of the window: which second it holds, its successes and its failures.
    _seconds: list[int] = field(default_factory=lambda: [-1] * WINDOW_SECONDS)
    _ok: list[int] = field(default_factory=lambda: [0] * WINDOW_SECONDS)
    _failed: list[int] = field(default_factory=lambda: [0] * WINDOW_SECONDS)
    _latency_metric: Any = None
    # The last entry routed here, and it pointed at this connection alone (`routing.aimed`):
    # entries live for a model-list snapshot, so most calls reuse it instead of a copy.
    _aimed_from: ModelEntry | None = None
    _aimed: ModelEntry | None = None

    def aimed(
        self, entry: ModelEntry, build: Callable[[ModelEntry, Connection], ModelEntry]
    ) -> ModelEntry:
        if self._aimed_from is not entry or self._aimed is None:
            self._aimed_from, self._aimed = entry, build(entry, self.connection)
        return self._aimed

    def _bucket(self, now: float) -> int:
        second = int(now)
        slot = second % WINDOW_SECONDS
        if self._seconds[slot] != second:
            self._seconds[slot], self._ok[slot], self._failed[slot] = second, 0, 0
        return slot

    def answered(self) -> None:
        """It answered (with the client's error, e.g. a 400): alive, but no latency to keep."""
        self._ok[self._bucket(time.monotonic())] += 1

    def succeeded(self, seconds: float) -> None:
        self._ok[self._bucket(time.monotonic())] += 1
        self.latencies.append(seconds)
        if self._latency_metric is None:  # labelled once: `labels` takes a lock and a lookup
            self._latency_metric = UPSTREAM_LATENCY.labels(self.connection.name, self.model)
        self._latency_metric.observe(seconds)

    def failed(self, error: str) -> None:
        self._failed[self._bucket(time.monotonic())] += 1
        self.last_failure = time.time()
        self.last_error = error

    def window(self) -> Window:
        oldest = int(time.monotonic()) - WINDOW_SECONDS
        requests = failures = 0
        for second, ok, failed in zip(self._seconds, self._ok, self._failed, strict=True):
            if second > oldest:
                requests += ok + failed
                failures += failed
        return Window(requests, failures)

    def p50_ms(self) -> float | None:
        return statistics.median(self.latencies) * 1000 if self.latencies else None


class Deployments:
    """Every deployment this process has routed to or listed, by connection and model."""

    def __init__(self) -> None:
        self._by: dict[tuple[Connection, str], Deployment] = {}

    def of(self, conn: Connection, model: str) -> Deployment:
        found = self._by.get((conn, model))
        if found is None:
            found = self._by[(conn, model)] = Deployment(conn, model, deployment_key(conn, model))
        return found

    def all(self) -> list[Deployment]:
        return list(self._by.values())
