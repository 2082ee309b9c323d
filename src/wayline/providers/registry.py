"""The model registry: every model a user can call, merged, cached, and resolved without I/O.

- Connections are listed concurrently; each keeps its last good list. A refresh waits at
  most `MODEL_LIST_TIMEOUT` and does not wait at all for a connection that failed in the
  last `DEAD_BACKOFF` seconds (its last good list answers while a retry runs in the
  background), so a dead upstream costs one timeout, not one per request.
- The merged snapshot lives `MODELS_CACHE_TTL` seconds. `/api/models` waits for a rebuild
  when it is stale (Open WebUI's semantics); chat resolves from the current snapshot and
  lets a stale one rebuild in the background, so the chat hot path never does I/O for
  model resolution. The `/api/models` body is serialised once per snapshot and user.
- Workspace models, pipes and grants are read from the database at each rebuild; their
  services announce changes on the bus (`MODELS_CHANGED`, `FUNCTIONS_CHANGED`,
  `ACCOUNTS_CHANGED`), so every worker rebuilds at once.
- Each connection is listed by the provider of its kind (`dialects.py`); providers without
  connections (pipes) are listed at every rebuild.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from wayline.auth.limits.gate import allow_model, current_limits
from wayline.core import errors
from wayline.core.bus import RECONNECTED
from wayline.core.state import Core
from wayline.core.tasks import stop_tasks
from wayline.functions.service import FUNCTIONS_CHANGED
from wayline.models.repository import MODELS_CHANGED, Overlay, load_overlay
from wayline.providers.connections import Connection
from wayline.providers.dialects import Providers
from wayline.providers.entries import ModelEntry, alias_ids, apply_rows
from wayline.users.schemas import UserInfo
from wayline.users.service import ACCOUNTS_CHANGED

log = logging.getLogger("wayline.providers")

DEAD_BACKOFF = 10.0


@dataclass
class _ConnState:
    entries: list[ModelEntry] | None = None
    fetched_at: float = 0.0
    failed_at: float = 0.0
    task: asyncio.Task[None] | None = None


@dataclass
class Snapshot:
    entries: dict[str, ModelEntry]
    # Upstream and pipe models before workspace rows are applied: what a row may not pose as.
    bases: dict[str, ModelEntry] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()
    _bodies: dict[str, bytes] = field(default_factory=dict)

    def base_named(self, model_id: str) -> ModelEntry | None:
        """The base model `model_id` names, exactly or through the `:latest` alias (either way)."""
        return next((self.bases[i] for i in alias_ids(model_id) if i in self.bases), None)

    def _trusted(self, entry: ModelEntry, user: UserInfo | None, bypass: bool) -> bool:
        """Whether `user` gets a preset whose id poses as a base model instead of that base model:
        its owner does; others only when an admin made it (Open WebUI's override) and they may
        read it. Without a user (callers that check access afterwards) the old behaviour stays."""
        if user is None or entry.owner_id == user.id:
            return True
        return entry.owner_id in self.admins and entry.readable_by(
            user.id, user.is_admin, bypass, user.group_ids
        )

    def find(
        self, model_id: str, user: UserInfo | None = None, bypass: bool = True
    ) -> ModelEntry | None:
        """The entry `model_id` names for `user`: the exact id, else Ollama's implicit `:latest`.

        A preset whose id poses as a base model (exactly or through `:latest`) stands in for it
        only for whom it is trusted by (`_trusted`); anyone else gets the base model. The alias
        only lands on a base model or on the caller's own preset, never on a row they did not
        choose."""
        exact = self.entries.get(model_id)
        if exact is not None and (
            not exact.preset
            or self.base_named(model_id) is None
            or self._trusted(exact, user, bypass)
        ):
            return exact
        if exact is not None and model_id in self.bases:
            return self.bases[model_id]  # the base model this preset displaced
        # `x` -> `x:latest`; `x:latest` -> `x` only in place of a preset posing as it.
        aliases = alias_ids(model_id)[1:] if exact is not None or ":" not in model_id else ()
        for alias in aliases:
            entry = self.entries.get(alias)
            if entry is None:
                continue
            if not entry.preset or (user is not None and entry.owner_id == user.id):
                return entry
            if alias in self.bases:
                return self.bases[alias]
        return None

    def visible(self, user: UserInfo, bypass: bool) -> list[ModelEntry]:
        """What `/api/models` lists for `user`: each id as `find` resolves it, if they may use
        it."""
        out = []
        for model_id in self.entries:
            entry = self.find(model_id, user, bypass)
            if (
                entry is not None
                and entry.id == model_id
                and entry.readable_by(user.id, user.is_admin, bypass, user.group_ids)
            ):
                out.append(entry)
        return out


class ModelRegistry:
    def __init__(self, core: Core, providers: Providers) -> None:
        self._core = core
        self._settings = core.settings
        self.providers = providers
        self._order = {p.kind: i for i, p in enumerate(providers)}
        self.connections: list[Connection] = providers.connections(core.settings)
        self._state = {conn: _ConnState() for conn in self.connections}
        self._snapshot: Snapshot | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[Any] | None = None
        # Bumped by each change to models/functions/grants/roles; a snapshot remembers the
        # generation it was started at. A flag cleared when a rebuild *starts* would let a
        # request in the meantime trust the old snapshot (a preset 404 right after its create).
        self._generation = 0
        self._built_generation = 0
        self._turns: dict[str, Iterator[int]] = {}
        core.bus.subscribe(MODELS_CHANGED, self._on_changed)
        core.bus.subscribe(FUNCTIONS_CHANGED, self._on_changed)
        # Who is an admin decides whose base-model overrides apply: a role change or a deleted
        # account changes the list.
        core.bus.subscribe(ACCOUNTS_CHANGED, self._on_changed)
        core.bus.subscribe(RECONNECTED, self._on_changed)  # messages may have been missed

    # --- invalidation -----------------------------------------------------------------
    def _on_changed(self, message: dict[str, Any]) -> None:
        self._expires = 0.0
        self._generation += 1

    def _ordered(self, connections: list[Connection]) -> list[Connection]:
        """In the providers' order (stable within a kind): the first to list a name wins it."""
        return sorted(connections, key=lambda c: self._order.get(c.kind, len(self._order)))

    def replace_connections(self, kind: str, connections: list[Connection]) -> None:
        """Swap the connections of one dialect (after an admin config update), keeping the
        model lists of connections that did not change; nothing resolves from the old snapshot."""
        others = [c for c in self.connections if c.kind != kind]
        self.connections = self._ordered(others + connections)
        self._state = {c: self._state.get(c) or _ConnState() for c in self.connections}
        self._on_changed({})

    async def close(self) -> None:
        tasks = [s.task for s in self._state.values() if s.task] + (
            [self._background] if self._background else []
        )
        await stop_tasks(tasks)

    # --- reading ------------------------------------------------------------------------
    def bypass(self) -> bool:
        return self._settings.BYPASS_MODEL_ACCESS_CONTROL

    def connection_entries(self, conn: Connection) -> list[ModelEntry]:
        """One connection's own last good model list (the merged list keeps one entry per name)."""
        state = self._state.get(conn)
        return list(state.entries or ()) if state is not None else []

    def connection(self, kind: str, index: int) -> Connection | None:
        return next((c for c in self.connections if c.kind == kind and c.index == index), None)

    def _changed_since_built(self) -> bool:
        return self._built_generation != self._generation

    def _stale(self) -> bool:
        # The generation as well as the clock: a rebuild that read the rows before a change
        # committed finishes after it and stamps a fresh expiry on a list that misses the change.
        return (
            self._snapshot is None
            or self._changed_since_built()
            or time.monotonic() >= self._expires
        )

    async def snapshot(self, refresh: bool = False) -> Snapshot:
        if not refresh and not self._stale():
            assert self._snapshot is not None
            return self._snapshot
        async with self._lock:
            if refresh or self._stale():
                await self._rebuild(refresh)
        assert self._snapshot is not None
        return self._snapshot

    async def list_body(self, user: UserInfo, refresh: bool = False) -> bytes:
        """The `/api/models` JSON body for `user` (serialised once per snapshot and user)."""
        snap = await self.snapshot(refresh)
        limits = current_limits()
        if limits is not None and limits.model_patterns:  # a key's allow-list: only those
            allowed = snap.visible(user, self.bypass())
            return orjson.dumps({"data": [e.public for e in allowed if limits.allows_model(e.id)]})
        # Per user and groups: a request still holding the groups it was authenticated with
        # must not serve its list to the same user's later requests after a membership change.
        key = "*" if user.is_admin else f"{user.id}:{','.join(sorted(user.group_ids))}"
        body = snap._bodies.get(key)
        if body is None:
            bypass = self.bypass()
            data = [e.public for e in snap.visible(user, bypass)]
            body = snap._bodies[key] = orjson.dumps({"data": data})
        return body

    async def resolve(self, model_id: Any, user: UserInfo) -> ModelEntry:
        """The entry for `model_id` if `user` may use it; 404 naming it otherwise."""
        if not isinstance(model_id, str) or not model_id:
            raise errors.BadRequest("'model' is required")
        snap = self._snapshot
        if snap is None or self._changed_since_built():
            snap = await self.snapshot()
        elif time.monotonic() >= self._expires and (
            self._background is None or self._background.done()
        ):
            self._background = asyncio.create_task(self.snapshot())
        bypass = self.bypass()
        entry = snap.find(model_id, user, bypass)
        if entry is None and snap is not self._snapshot_if_fresh():
            entry = (await self.snapshot()).find(model_id, user, bypass)
        if entry is None or not entry.readable_by(user.id, user.is_admin, bypass, user.group_ids):
            raise errors.NotFound(errors.model_not_found(model_id))
        allow_model(entry.id)  # the credential's allow-list (403 naming the model)
        return entry

    # --- the models domain's `Catalog` -----------------------------------------------------
    async def base_model_named(self, model_id: str) -> str | None:
        base = (await self.snapshot()).base_named(model_id)
        return base.id if base is not None else None

    async def has_model(self, model_id: str) -> bool:
        return model_id in (await self.snapshot()).entries

    async def usable_by(self, model_id: str, user: UserInfo) -> bool:
        bypass = self.bypass()
        entry = (await self.snapshot()).find(model_id, user, bypass)
        return entry is not None and entry.readable_by(
            user.id, user.is_admin, bypass, user.group_ids
        )

    def _snapshot_if_fresh(self) -> Snapshot | None:
        return self._snapshot if time.monotonic() < self._expires else None

    # --- building -----------------------------------------------------------------------
    async def _fetch(self, conn: Connection) -> None:
        state = self._state[conn]
        try:
            provider = self.providers.of(conn.kind)
            state.entries = await provider.list_models(conn, self._settings.MODEL_LIST_TIMEOUT)
            state.fetched_at = time.monotonic()
            state.failed_at = 0.0
        except Exception as exc:
            state.failed_at = time.monotonic()
            log.warning("model list from %s failed: %s", conn.name, getattr(exc, "detail", exc))

    async def _rebuild(self, force: bool) -> None:
        generation = self._generation  # a change arriving during the rebuild leaves it stale
        now = time.monotonic()
        ttl = self._settings.MODELS_CACHE_TTL
        waits = []
        for conn, state in self._state.items():
            if not force and state.entries is not None and now - state.fetched_at < ttl:
                continue
            if state.task is None or state.task.done():
                state.task = asyncio.create_task(self._fetch(conn))
            if force or not (state.failed_at and now - state.failed_at < DEAD_BACKOFF):
                waits.append(state.task)
        if waits:
            await asyncio.wait(waits, timeout=self._settings.MODEL_LIST_TIMEOUT)
        overlay = await self._load_overlay()
        merged: dict[str, ModelEntry] = {}
        for provider in self.providers:
            if provider.uses_connections:
                continue
            for entry in await provider.list_models(None, self._settings.MODEL_LIST_TIMEOUT):
                merged.setdefault(entry.id, entry)
        for state in self._state.values():
            for entry in state.entries or ():
                found = merged.get(entry.id)
                if found is None:
                    merged[entry.id] = entry
                elif found.kind == entry.kind:
                    turns = self._turns.setdefault(entry.id, itertools.count())
                    merged[entry.id] = (
                        self.providers.of(entry.kind).merge(found, entry, turns) or found
                    )
                # across kinds, the first to list a name wins it (Open WebUI's rule)
        self._snapshot = Snapshot(
            apply_rows(merged, overlay.models, overlay.grants), bases=merged, admins=overlay.admins
        )
        self._built_generation = generation
        self._expires = time.monotonic() + ttl

    async def _load_overlay(self) -> Overlay:
        # A system-wide read on purpose: the snapshot is filtered per user when served.
        async with self._core.db.sessionmaker() as session:
            return await load_overlay(session)
