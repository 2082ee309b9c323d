"""SQL for functions. Functions are admin-managed server code, so reads are not per-user."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.functions.tables import FunctionRow


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
        await self.session.execute(delete(FunctionRow).where(FunctionRow.id == function_id))

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
