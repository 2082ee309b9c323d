"""Deployment health: passive from traffic (routing.py records it), plus a cheap active probe of
the deployments that are cooling down, so that one that recovered comes back before its
cooldown ends.

Every `probe_interval` seconds (a third of `UPSTREAM_COOLDOWN_SECONDS`, at most 5) the monitor
re-reads the shared cooldowns, then probes each connection that has a deployment cooling down
for failures (its model list: `/v1/models`, `/api/tags`) once; a connection that answers ends
those cooldowns, for every process. A deployment that refused the model (401/403/404) stays out
for its whole cooldown: a model list cannot tell that the next call would be accepted.
"""

from __future__ import annotations

import asyncio
import logging
import time

from wayline.core.settings import Settings
from wayline.core.tasks import stop_tasks
from wayline.providers.connections import Connection
from wayline.providers.deployments import Deployment
from wayline.providers.registry import ModelRegistry
from wayline.providers.routing import Router, upstream_id_on
from wayline.providers.schemas import ConnectionRef, ConnectionsHealth, DeploymentHealth

log = logging.getLogger("wayline.providers")

PROBE_INTERVAL_MAX = 5.0


class HealthMonitor:
    def __init__(self, settings: Settings, registry: ModelRegistry, router: Router) -> None:
        self._settings = settings
        self._registry = registry
        self._router = router
        cooldown = settings.UPSTREAM_COOLDOWN_SECONDS
        self.probe_interval = max(0.5, min(PROBE_INTERVAL_MAX, cooldown / 3))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._settings.UPSTREAM_COOLDOWN_SECONDS:
            self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            await stop_tasks([self._task])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                await self.probe_round()
            except Exception:  # one bad round must not end the monitor
                log.exception("deployment health round failed")

    async def _deployments(self) -> list[tuple[Deployment, str]]:
        """Each deployment of every listed model, with the model's id on that connection."""
        snapshot = await self._registry.snapshot()
        return [
            (deployment, upstream_id_on(entry, deployment.connection))
            for entry in snapshot.bases.values()
            if entry.connection is not None
            for deployment in self._router.pool(entry)
        ]

    async def probe_round(self) -> None:
        board = self._router.board
        await board.sync()
        if not board.any():  # nothing to probe: an idle gateway makes no upstream calls
            return
        failing: dict[Connection, list[Deployment]] = {}
        for deployment, _ in await self._deployments():
            cooldown = board.get(deployment.key)
            if cooldown is not None and cooldown.reason == "failures":
                failing.setdefault(deployment.connection, []).append(deployment)
        for deployments in failing.values():
            conn = deployments[0].connection
            provider = self._registry.providers.of(conn.kind)
            health = await provider.probe(conn, self._settings.MODEL_LIST_TIMEOUT)
            if not health.ok:
                continue
            for deployment in deployments:
                board.end(deployment.key)
            log.info("%s answers its probe again: back in rotation", conn.name)

    async def report(self) -> ConnectionsHealth:
        board = self._router.board
        rows = []
        now = time.time()
        for deployment, upstream in await self._deployments():
            conn = deployment.connection
            cooldown = board.get(deployment.key)
            window = deployment.window()
            p50 = deployment.p50_ms()
            rows.append(
                DeploymentHealth(
                    connection=ConnectionRef(
                        kind=conn.kind, index=conn.index, url=conn.url, weight=conn.weight
                    ),
                    model=deployment.model,
                    upstream_model=upstream,
                    state="cooling_down" if cooldown and cooldown.until > now else "healthy",
                    requests=window.requests,
                    failures=window.failures,
                    error_rate=round(window.error_rate, 4),
                    p50_latency_ms=round(p50, 3) if p50 is not None else None,
                    in_flight=deployment.in_flight,
                    cooldown_until=round(cooldown.until, 3) if cooldown else None,
                    cooldown_reason=cooldown.reason if cooldown else None,
                    last_error=deployment.last_error or None,
                )
            )
        return ConnectionsHealth(
            strategy=self._settings.MODEL_ROUTING_STRATEGY,
            cooldown_seconds=self._settings.UPSTREAM_COOLDOWN_SECONDS,
            deployments=rows,
        )
