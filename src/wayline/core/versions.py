"""Saved versions of a resource's configuration: Open WebUI's model and function history.

Each domain keeps its own table (`VersionColumns` plus the column naming the resource, e.g.
`function_id`) and decides what a snapshot holds. A write that changes the snapshot adds a
version whose parent is the current one and makes it current (the resource row's
`version_id`); setting an older version as current copies its snapshot back and adds none.
The current version cannot be deleted; deleting another hands its children to its parent, so
the chain stays connected.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import JSON, BigInteger, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from wayline.core import errors
from wayline.core.clock import now

PAGE_SIZE = 20  # Open WebUI's history page
_last_ms = 0


def time_ordered_id() -> str:
    """A UUIDv7 (milliseconds, then random bits), strictly increasing within this process: two
    versions saved in the same second still list newest first."""
    global _last_ms
    _last_ms = max(time.time_ns() // 1_000_000, _last_ms + 1)
    value = (_last_ms << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


class VersionColumns:
    """The columns every version table has (a declarative mixin)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    user_id: Mapped[str] = mapped_column(String(36))
    commit_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


V = TypeVar("V", bound=VersionColumns)


class Versions:
    """The version table `cls` of one domain, whose `owner` column names the resource."""

    def __init__(self, session: AsyncSession, cls: type[V], owner: InstrumentedAttribute[str]):
        self.session = session
        self.cls: Any = cls
        self.owner = owner

    def add(
        self,
        owner_id: str,
        snapshot: dict[str, Any],
        user_id: str,
        parent_id: str | None,
        message: str | None = None,
    ) -> str:
        """A new version (in the caller's transaction); returns its id."""
        version_id = time_ordered_id()
        self.session.add(
            self.cls(
                id=version_id,
                **{self.owner.key: owner_id},
                parent_id=parent_id,
                snapshot=snapshot,
                user_id=user_id,
                commit_message=message,
                created_at=now(),
            )
        )
        return version_id

    async def page(self, owner_id: str, page: int) -> list[Any]:
        """Newest first, `PAGE_SIZE` a page (pages count from 1)."""
        stmt = (
            select(self.cls)
            .where(self.owner == owner_id)
            .order_by(self.cls.created_at.desc(), self.cls.id.desc())
            .offset((max(1, page) - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def get(self, owner_id: str, version_id: str) -> Any:
        """The version, or 404 (a version of another resource is not found either)."""
        stmt = select(self.cls).where(self.owner == owner_id, self.cls.id == version_id)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise errors.NotFound(f"Version '{version_id}' not found")
        return row

    async def delete(self, owner_id: str, version_id: str, current: str | None) -> None:
        """In the caller's write transaction (the resource row read after `begin_write`)."""
        if version_id == current:
            raise errors.BadRequest("Cannot delete the current version")
        row = await self.get(owner_id, version_id)
        await self.session.execute(
            update(self.cls)
            .where(self.owner == owner_id, self.cls.parent_id == version_id)
            .values(parent_id=row.parent_id)
        )
        await self.session.delete(row)

    async def delete_all(self, owner_ids: Sequence[str]) -> None:
        if owner_ids:
            await self.session.execute(delete(self.cls).where(self.owner.in_(owner_ids)))


def listing(row: Any, owner_key: str, names: dict[str, str], snapshot: bool) -> dict[str, Any]:
    """A version as Open WebUI answers it: the author's name under `user`, the snapshot only
    when one version is asked for."""
    out = {
        "id": row.id,
        owner_key: getattr(row, owner_key),
        "parent_id": row.parent_id,
        "user_id": row.user_id,
        "commit_message": row.commit_message,
        "created_at": row.created_at,
        "user": {"name": names[row.user_id]} if row.user_id in names else None,
    }
    if snapshot:
        out["snapshot"] = row.snapshot
    return out
