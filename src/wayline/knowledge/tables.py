"""Knowledge collections: a named set of files (links, not copies of chunks), arranged in
directories (Open WebUI 0.12), and the uploads waiting to join one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wayline.core.db import Base


class Knowledge(Base):
    __tablename__ = "knowledge"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class KnowledgeDirectory(Base):
    """A folder inside one collection; `parent_id` None is the collection's root. Deleting a
    folder deletes its sub-folders (ON DELETE CASCADE); names are unique among siblings (an
    index over `coalesce(parent_id, '')`, migration 0007, so two root folders clash too)."""

    __tablename__ = "knowledge_directory"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    knowledge_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("knowledge.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("knowledge_directory.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class KnowledgeFile(Base):
    __tablename__ = "knowledge_file"

    knowledge_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("knowledge.id", ondelete="CASCADE"), primary_key=True
    )
    # The FK to `file.id` lives in migration 0004; the ORM does not need the files model to map it.
    file_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    # The file's owner (migration 0005), for the access rule over a whole collection.
    file_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The folder the file sits in (migration 0007); None is the root. A folder deleted from
    # under it leaves the file at the root (ON DELETE SET NULL).
    directory_id: Mapped[str | None] = mapped_column(
        String(36),
        ForeignKey("knowledge_directory.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


class KnowledgeUpload(Base):
    """An upload that named a collection (`metadata.knowledge_id`) and waits for its processing
    to complete: as in Open WebUI, the file joins the collection only then, so a collection
    never lists a file whose processing failed. The row goes when the link is made, or with
    the file, the collection or (its folder only) the directory."""

    __tablename__ = "knowledge_upload"

    # The FK to `file.id` lives in migration 0007, as for `knowledge_file`.
    file_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    knowledge_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("knowledge.id", ondelete="CASCADE"), index=True
    )
    directory_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("knowledge_directory.id", ondelete="SET NULL"), nullable=True
    )
    user_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[int] = mapped_column(BigInteger)
