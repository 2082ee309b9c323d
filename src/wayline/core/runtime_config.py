"""Admin-editable runtime settings: one typed, versioned row per section.

A domain declares a pydantic model for its section and the defaults (from
`Settings`); `get` returns the stored value merged over those defaults, `update`
writes a new version and tells every worker to drop its cached copy. Environment
variables stay the source of deploy configuration; these rows hold only what an
admin changes through the API (`/api/v1/retrieval/config`, `/openai/config`, ...).

`StagedConfig` runs a section's own update path (its checks and normalisation) without writing:
it records the values, and `commit` writes all of them in one transaction (the configuration
import applies many sections, whole or not at all).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from wayline.core.bus import RECONNECTED, Bus
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
        bus.subscribe(RECONNECTED, lambda _: self._cache.clear())  # messages may be missed

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

    async def _write(self, values: dict[str, dict[str, Any]]) -> None:
        async with self._db.write() as session:
            for section, data in sorted(values.items()):  # one lock order for every writer
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
        await self.update_many({section: value})
        return value

    async def update_many(self, values: dict[str, BaseModel]) -> None:
        """Write several sections in one transaction, then tell every worker about each."""
        data = {section: value.model_dump(mode="json") for section, value in values.items()}
        if not data:
            return
        try:
            await self._write(data)
        except IntegrityError:  # two first writes of a section raced (PostgreSQL); it exists now
            await self._write(data)
        for section in sorted(data):
            await self._bus.publish(_TOPIC, {"section": section})


class StagedConfig(RuntimeConfig):
    """Reads through to the live configuration; `update` records instead of writing, so that a
    section's own update path (checks, normalisation) can run as a dry run. `commit` writes
    every recorded section at once."""

    def __init__(self, live: RuntimeConfig) -> None:  # no bus subscription: it caches nothing
        self._live = live
        self.staged: dict[str, BaseModel] = {}

    async def get(self, section: str, default: M) -> M:
        staged = self.staged.get(section)
        if staged is not None:
            return staged  # type: ignore[return-value]
        return await self._live.get(section, default)

    async def update(self, section: str, value: M) -> M:
        self.staged[section] = value
        return value

    async def update_many(self, values: dict[str, BaseModel]) -> None:
        self.staged.update(values)

    async def commit(self) -> None:
        await self._live.update_many(self.staged)
