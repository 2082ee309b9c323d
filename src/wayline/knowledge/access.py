"""Who may read or write a collection, as SQL (so every list and lookup is scoped in the query).

Rules: the owner and admins may do anything; an `access_grant` row
(resource_type "knowledge") gives a user `read` or `write` (write implies read);
Open WebUI's public form — principal_type "user", principal_id "*" — gives everyone
that permission. A file is readable by its owner, admins, and anyone who can read a
collection holding it (that is how sharing a collection shares its documents).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, String, Text, and_, exists, or_, select, table, true
from sqlalchemy.sql.elements import ColumnElement

from wayline.knowledge.tables import Knowledge, KnowledgeFile
from wayline.users.schemas import UserInfo

RESOURCE = "knowledge"
EVERYONE = "*"

# The foundation's grant table, as a lightweight table clause (no ORM class of its own yet).
access_grant = table(
    "access_grant",
    Column("id", String), Column("resource_type", String), Column("resource_id", String),
    Column("principal_type", String), Column("principal_id", String), Column("permission", String),
    Column("created_at"),
)

# The files table (owned by the files domain), read-only here: the columns collections show.
file_table = table(
    "file",
    Column("id", String), Column("user_id", String), Column("hash", String), Column("filename", Text),
    Column("meta", JSON), Column("data", JSON), Column("status", String), Column("error", Text),
    Column("content", Text), Column("created_at", BigInteger), Column("updated_at", BigInteger),
)


def _granted(user: UserInfo, permissions: tuple[str, ...]) -> ColumnElement[bool]:
    g = access_grant.c
    return exists().where(
        g.resource_type == RESOURCE,
        g.resource_id == Knowledge.id,
        g.permission.in_(permissions),
        or_(
            and_(g.principal_type == "user", g.principal_id.in_([user.id, EVERYONE])),
            g.principal_type == "anyone",
        ),
    )


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
