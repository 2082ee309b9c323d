from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wayline.core.db import Base
from wayline.core.versions import VersionColumns


class ModelRow(Base):
    """A workspace model: a preset over a base model (`base_model_id` set) or an override of one."""

    __tablename__ = "model"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    base_model_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    # The saved version the row holds (`model_history`); None before the first write.
    version_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class ModelHistoryRow(VersionColumns, Base):
    """A saved version of a workspace model's name, base model, parameters and metadata."""

    __tablename__ = "model_history"

    model_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("model.id", ondelete="CASCADE"), index=True
    )
