"""Which connections serve a model: a thin view over the providers' `ModelRegistry`.

The registry owns connection parsing, model listing, access control and the rotation
over connections serving the same model; the proxies also need each connection's own
list (for Ollama's `/api/tags` and for a model name that another kind of connection
won in the merged list).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from fastapi import Request

from wayline.core import errors
from wayline.core.state import get_state
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry
from wayline.providers.registry import ModelRegistry
from wayline.providers.routing import Router
from wayline.users.schemas import UserInfo


class Upstreams:
    def __init__(self, registry: ModelRegistry, router: Router | None = None) -> None:
        self.registry = registry
        self.router = router  # over a model's deployments: retries and cooldowns

    def connections(self, kind: str) -> list[Connection]:
        return [c for c in self.registry.connections if c.kind == kind]

    def connection(self, kind: str, index: int) -> Connection:
        conn = self.registry.connection(kind, index)
        if conn is None:
            raise errors.NotFound(
                f"There is no {'Ollama' if kind == 'ollama' else 'OpenAI'} connection "
                f"with index {index}"
            )
        return conn

    async def per_connection(self, kind: str) -> list[tuple[Connection, list[ModelEntry]]]:
        """Each connection's last good model list (after refreshing a stale snapshot)."""
        await self.registry.snapshot()
        return [(c, self.registry.connection_entries(c)) for c in self.connections(kind)]

    async def resolve(self, model: Any, user: UserInfo, kind: str) -> ModelEntry:
        return (await self.pick(model, user, kind))[0]

    def routed(self, entry: ModelEntry, kind: str) -> Router | None:
        """The router when `entry` is the registry's own entry for a model of `kind` (its
        deployments known, so a failed call can move to another), else None."""
        if entry.kind == kind and entry.connection is not None:
            return self.router
        return None

    async def pick(self, model: Any, user: UserInfo, kind: str) -> tuple[ModelEntry, Connection]:
        """The model's entry and a connection of `kind` serving it (rotating among them)."""
        # The registry's own resolution: access control (presets included), and no upstream I/O
        # on this hot path (a stale model list is rebuilt in the background).
        entry = await self.registry.resolve(model, user)
        if entry.kind == kind and entry.connection is not None:
            # The registry rotates over every connection serving the model (its `urls`).
            return entry, entry.pick() or entry.connection
        lists = await self.per_connection(kind)
        # The merged list keeps one entry per name; when a connection of another kind won it,
        # this kind's own lists still know the model.
        for name in (model, f"{model}:latest") if ":" not in model else (model,):
            matches = [(c, e) for c, entries in lists for e in entries if e.id == name]
            if matches:
                found = matches[0][1]
                if found.readable_by(
                    user.id, user.is_admin, self.registry.bypass(), user.group_ids
                ):
                    return found, random.choice([c for c, _ in matches])
                break
        raise errors.NotFound(errors.model_not_found(model))

    async def target(
        self, model: str, user: UserInfo, kind: str, index: int | None
    ) -> tuple[ModelEntry, Connection]:
        """`pick`, or with `index` the connection of `kind` at that index (the model must still
        be one the user may call): the entry comes back pointed at the chosen connection."""
        if index is None:
            entry, conn = await self.pick(model, user, kind)
        else:
            conn = self.connection(kind, index)
            entry = await self.resolve(model, user, kind)
        if conn != entry.connection or entry.alternates:
            # A preset names its base model's upstream id; a model its own public id.
            upstream_id = entry.upstream_id if entry.preset else conn.upstream_id(entry.id)
            entry = dataclasses.replace(
                entry, connection=conn, upstream_id=upstream_id, alternates=()
            )
        return entry, conn

    def replace(self, kind: str, connections: list[Connection]) -> None:
        """Swap the connections of one kind (after an admin config update)."""
        self.registry.replace_connections(kind, connections)


def get_upstreams(request: Request) -> Upstreams:
    state = get_state(request)
    return Upstreams(state.get(ModelRegistry), state.find(Router))
