"""Dependency aliases shared by every router, so handler signatures read as a list of needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.settings import Settings
from wayline.core.state import AppState, Core, get_core, get_state


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_core(request).db.sessionmaker() as session:
        yield session


def _settings(request: Request) -> Settings:
    return get_core(request).settings


StateDep = Annotated[AppState, Depends(get_state)]
CoreDep = Annotated[Core, Depends(get_core)]
SessionDep = Annotated[AsyncSession, Depends(_session)]
SettingsDep = Annotated[Settings, Depends(_settings)]
