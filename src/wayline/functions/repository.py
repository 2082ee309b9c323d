"""SQL for functions. Functions are admin-managed server code, so reads are not per-user; only
a user's own valve values are (`user_valves`: keyed by the caller, never listed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.clock import now
from wayline.functions.tables import FunctionHistoryRow, FunctionRow, FunctionUserValvesRow


class FunctionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, function_id: str) -> FunctionRow | None:
        # Always read the row again: a write transaction must not trust what an earlier one loaded.
        return await self.session.get(FunctionRow, function_id, populate_existing=True)

    async def list(self) -> list[FunctionRow]:
        return list(
            (
                await self.session.execute(
                    select(FunctionRow).order_by(FunctionRow.created_at, FunctionRow.id)
                )
            ).scalars()
        )

    def add(self, row: FunctionRow) -> None:
        self.session.add(row)

    async def delete(self, function_id: str) -> None:
        await self.delete_many([function_id])

    async def delete_many(self, function_ids: Sequence[str]) -> None:
        if not function_ids:
            return
        uv, versions = FunctionUserValvesRow, FunctionHistoryRow
        await self.session.execute(delete(uv).where(uv.function_id.in_(function_ids)))
        await self.session.execute(delete(versions).where(versions.function_id.in_(function_ids)))
        await self.session.execute(delete(FunctionRow).where(FunctionRow.id.in_(function_ids)))

    async def user_valves(self, function_id: str, user_id: str) -> dict[str, Any] | None:
        """`user_id`'s own valve values for the function (nobody else's), None if never set."""
        row = await self.session.get(
            FunctionUserValvesRow, (function_id, user_id), populate_existing=True
        )
        return row.valves if row is not None else None

    async def set_user_valves(self, function_id: str, user_id: str, valves: dict[str, Any]) -> None:
        """In the caller's write transaction (`begin_write` first, so two saves queue)."""
        row = await self.session.get(
            FunctionUserValvesRow, (function_id, user_id), populate_existing=True
        )
        if row is None:
            self.session.add(
                FunctionUserValvesRow(
                    function_id=function_id, user_id=user_id, valves=valves, updated_at=now()
                )
            )
        else:
            row.valves, row.updated_at = valves, now()

    async def active_pipes(self) -> Sequence[FunctionRow]:
        """The pipes that serve models, oldest first (the model list's order)."""
        return tuple(
            (
                await self.session.execute(
                    select(FunctionRow)
                    .where(FunctionRow.type == "pipe", FunctionRow.is_active.is_(True))
                    .order_by(FunctionRow.created_at)
                )
            ).scalars()
        )
