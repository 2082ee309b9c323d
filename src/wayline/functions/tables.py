from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wayline.core.db import Base
from wayline.core.versions import VersionColumns


class FunctionRow(Base):
    """Admin-supplied Python source defining a `Pipe` (or `Filter`/`Action`, stored but not run)."""

    __tablename__ = "function"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    valves: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    is_global: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    # The saved version the row holds (`function_history`); None before the first write.
    version_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class FunctionUserValvesRow(Base):
    """One user's own valve values for a function (its `UserValves`), as Open WebUI keeps them in
    the user's settings; passed to the pipe as `__user__["valves"]`."""

    __tablename__ = "function_user_valves"

    function_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("function.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    valves: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class FunctionHistoryRow(VersionColumns, Base):
    """A saved version of a function's name, source and metadata (Open WebUI's history)."""

    __tablename__ = "function_history"

    function_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("function.id", ondelete="CASCADE"), index=True
    )
