"""Admin-editable runtime settings: one typed, versioned row per section.

A domain declares a pydantic model for its section and the defaults (from
`Settings`); `get` returns the stored value merged over those defaults, `update`
writes a new version and tells every worker to drop its cached copy. Environment
variables stay the source of deploy configuration; these rows hold only what an
admin changes through the API (`/api/v1/retrieval/config`, `/openai/config`, ...).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import Base, Database

M = TypeVar("M", bound=BaseModel)
_TOPIC = "runtime_config.changed"


class RuntimeConfigRow(Base):
    __tablename__ = "runtime_config"

    section: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class RuntimeConfig:
    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus
        self._cache: dict[str, BaseModel] = {}
        bus.subscribe(_TOPIC, self._on_changed)

    def _on_changed(self, message: dict[str, Any]) -> None:
        self._cache.pop(message["section"], None)

    async def get(self, section: str, default: M) -> M:
        cached = self._cache.get(section)
        if cached is not None:
            return cached  # type: ignore[return-value]
        async with self._db.sessionmaker() as session:
            row = await session.get(RuntimeConfigRow, section)
        value = (
            type(default).model_validate({**default.model_dump(), **row.data}) if row else default
        )
        self._cache[section] = value
        return value

    async def _write(self, section: str, data: dict[str, Any]) -> None:
        async with self._db.write() as session:
            row = (
                await session.execute(
                    select(RuntimeConfigRow)
                    .where(RuntimeConfigRow.section == section)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if row is None:
                session.add(
                    RuntimeConfigRow(section=section, version=1, data=data, updated_at=now())
                )
            else:
                row.version += 1
                row.data = data
                row.updated_at = now()

    async def update(self, section: str, value: M) -> M:
        data = value.model_dump(mode="json")
        try:
            await self._write(section, data)
        except (
            IntegrityError
        ):  # two first writes of a section raced (PostgreSQL); the row exists now
            await self._write(section, data)
        await self._bus.publish(_TOPIC, {"section": section})
        return value
