"""Who may read or write a collection, as SQL (so every list and lookup is scoped in the query).

Rules: the owner and admins may do anything; an `access_grant` row
(resource_type "knowledge") gives a user `read` or `write` (write implies read);
Open WebUI's public form — principal_type "user", principal_id "*" — gives everyone
that permission. A file is readable by its owner, admins, and anyone who can read a
collection holding it (that is how sharing a collection shares its documents).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, String, Text, exists, or_, select, table, true
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.grants import granted
from wayline.knowledge.tables import Knowledge, KnowledgeFile
from wayline.users.schemas import UserInfo

RESOURCE = "knowledge"
EVERYONE = "*"

# The files table (owned by the files domain), read-only here: the columns collections show.
file_table = table(
    "file",
    Column("id", String), Column("user_id", String), Column("hash", String), Column("filename", Text),
    Column("meta", JSON), Column("data", JSON), Column("status", String), Column("error", Text),
    Column("content", Text), Column("created_at", BigInteger), Column("updated_at", BigInteger),
)


def _granted(user: UserInfo, permissions: tuple[str, ...]) -> ColumnElement[bool]:
    return granted(RESOURCE, Knowledge.id, user.id, permissions)


def can_read(user: UserInfo) -> ColumnElement[bool]:
    """A WHERE clause on `Knowledge`: collections `user` may read."""
    if user.is_admin:
        return true()
    return or_(Knowledge.user_id == user.id, _granted(user, ("read", "write")))


def can_write(user: UserInfo) -> ColumnElement[bool]:
    if user.is_admin:
        return true()
    return or_(Knowledge.user_id == user.id, _granted(user, ("write",)))


def file_readable(user: UserInfo) -> ColumnElement[bool]:
    """A WHERE clause on the `file` table: files `user` may read (own, admin, or via a collection)."""
    if user.is_admin:
        return true()
    via_collection = exists(
        select(KnowledgeFile.file_id)
        .join(Knowledge, Knowledge.id == KnowledgeFile.knowledge_id)
        .where(KnowledgeFile.file_id == file_table.c.id, can_read(user))
    )
    return or_(file_table.c.user_id == user.id, via_collection)
