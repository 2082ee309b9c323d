"""The usage ledger: one row per finished model call (`core/usage.py`'s `CallUsage`).

Rows are accounting: they outlive the account and the key they name (no foreign keys), so an
admin's totals do not change when a user or key is deleted. Indexed for the two queries served:
one user's calls in a time range, and everyone's calls in a time range.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wayline.core.db import Base


class UsageRecord(Base):
    __tablename__ = "usage_record"

    # INTEGER on SQLite, where only that type is an auto-incrementing row id.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)  # the call's start, epoch seconds
    kind: Mapped[str] = mapped_column(String(16))  # chat, embedding, image, transcription
    user_id: Mapped[str] = mapped_column(String(36))
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    model: Mapped[str] = mapped_column(Text)
    connection: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    time_to_first_token_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    estimated: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_usage_record_user_id_created_at", "user_id", "created_at"),
        Index("ix_usage_record_created_at", "created_at"),
    )
