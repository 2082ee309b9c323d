"""A function's saved versions (`/api/v1/functions/id/{id}/history...`): what a version holds,
when a write saves one, and reading, comparing and deleting them. Admin-only, as functions."""

from __future__ import annotations

import difflib
from copy import deepcopy
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.db import begin_write
from wayline.core.versions import Versions, listing
from wayline.functions.repository import FunctionRepository
from wayline.functions.tables import FunctionHistoryRow, FunctionRow
from wayline.users.repository import UserRepository

OWNER = "function_id"
# Derived from the source at each load, so not part of what a version is.
_DERIVED_META = ("manifest", "has_user_valves", "toggle")


def versions(session: AsyncSession) -> Versions:
    return Versions(session, FunctionHistoryRow, FunctionHistoryRow.function_id)


def snapshot(name: str, content: str, meta: dict[str, Any] | None) -> dict[str, Any]:
    """What a version holds: the name, the source and the metadata an admin wrote."""
    kept = deepcopy(meta or {})
    kept.setdefault("description", None)
    if not kept.get("i18n"):
        kept.pop("i18n", None)
    for key in _DERIVED_META:
        kept.pop(key, None)
    return {"name": name, "content": content or "", "meta": kept}


async def record(
    session: AsyncSession,
    row: FunctionRow,
    before: dict[str, Any] | None,
    user_id: str,
    message: str | None,
) -> None:
    """Save a version when the write changed what one holds (or the row has none yet)."""
    after = snapshot(row.name, row.content, row.meta)
    if row.version_id is None or after != before:
        await session.flush()  # a new row first: the version refers to it
        row.version_id = versions(session).add(row.id, after, user_id, row.version_id, message)


def diff(before: FunctionHistoryRow, after: FunctionHistoryRow) -> dict[str, Any]:
    """Open WebUI's comparison of two versions: changed name/meta, a unified diff of the source."""
    left, right = before.snapshot, after.snapshot
    metadata = {
        key: {"before": left.get(key), "after": right.get(key)}
        for key in ("name", "meta")
        if left.get(key) != right.get(key)
    }
    old, new = left.get("content") or "", right.get("content") or ""
    patch = "\n".join(
        difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            fromfile="selected.py",
            tofile="production.py",
            lineterm="",
        )
    )
    return {
        "from_id": before.id,
        "to_id": after.id,
        "metadata": metadata,
        "content_diff": patch,
        "line_endings_only": old != new and not patch,
    }


class FunctionHistoryService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = FunctionRepository(session)
        self.versions = versions(session)

    async def _function(self, function_id: str) -> FunctionRow:
        row = await self.repo.get(function_id)
        if row is None:
            raise errors.NotFound()
        return row

    async def _names(self, rows: list[FunctionHistoryRow]) -> dict[str, str]:
        infos = await UserRepository(self.session).infos(sorted({r.user_id for r in rows}))
        return {user_id: info.name for user_id, info in infos.items()}

    async def page(self, function_id: str, page: int) -> list[dict[str, Any]]:
        await self._function(function_id)
        rows = await self.versions.page(function_id, page)
        names = await self._names(rows)
        return [listing(row, OWNER, names, snapshot=False) for row in rows]

    async def entry(self, function_id: str, version_id: str) -> dict[str, Any]:
        await self._function(function_id)
        row = await self.versions.get(function_id, version_id)
        return listing(row, OWNER, await self._names([row]), snapshot=True)

    async def diff(self, function_id: str, from_id: str, to_id: str) -> dict[str, Any]:
        await self._function(function_id)
        before = await self.versions.get(function_id, from_id)
        return diff(before, await self.versions.get(function_id, to_id))

    async def delete(self, function_id: str, version_id: str) -> bool:
        await begin_write(self.session)
        row = await self._function(function_id)
        await self.versions.delete(function_id, version_id, row.version_id)
        await self.session.commit()
        return True
