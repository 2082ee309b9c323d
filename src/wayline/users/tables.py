"""Accounts and groups (migrations 0001 and 0006)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wayline.core.db import Base


class User(Base):
    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    profile_image_url: Mapped[str] = mapped_column(Text, default="/user.png")
    password_hash: Mapped[str] = mapped_column(Text)
    token_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    last_active_at: Mapped[int] = mapped_column(BigInteger)
    # Open WebUI's per-account documents (0006): the UI's settings, free-form info, the
    # `{{user.variables.*}}` values, and a profile status.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    bio: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_emoji: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Group(Base):
    """A set of accounts that grants and permissions can name. `parent_group_id` nests it: the
    members of a group are members, by inheritance, of every group above it."""

    __tablename__ = "group"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    parent_group_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("group.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    permissions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class GroupMember(Base):
    """A direct membership; inherited ones are read through `GroupLineage`."""

    __tablename__ = "group_member"

    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("group.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class GroupLineage(Base):
    """The hierarchy's closure: one row per (ancestor, group), each group its own ancestor. A
    user belongs, directly or by inheritance, to every `ancestor_id` of their groups."""

    __tablename__ = "group_lineage"

    ancestor_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("group.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("group.id", ondelete="CASCADE"), primary_key=True
    )
