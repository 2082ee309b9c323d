"""Who may read or write a collection or a file, as SQL (every list and lookup is scoped in the
query).

Collections: the owner and admins may do anything; an `access_grant` row (resource_type
"knowledge") gives a user `read` or `write` (write implies read); Open WebUI's public form —
principal_type "user", principal_id "*" — gives everyone that permission.

Files: the owner and admins may read and write a file. Its owner shares it by putting it in
a collection of theirs: a `read` grant on that collection lets the grantee read the file, a
`write` grant lets them also write it — and so add it to collections of their own.

A link (collection → file) serves the file only while someone who answers for the collection
may still write the file: its owner or a user granted write on it by name (not "everyone": that
is nobody in particular), or any link when the owner is an admin. So a file someone re-shared
through their own collection stops being readable there the moment the grant that let them
add it is revoked, for them and for everyone they shared the collection with.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.grants import EVERYONE, AccessGrant, granted
from wayline.files.repository import file_table
from wayline.knowledge.tables import Knowledge, KnowledgeFile
from wayline.users.repository import is_admin
from wayline.users.schemas import UserInfo

RESOURCE = "knowledge"

# The files domain's table, read here (never written) to scope files in the same query.
F = file_table.c


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


def _named_writers(knowledge_id: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement:
    """Users granted write on a collection by name (a subquery of user ids)."""
    g = aliased(AccessGrant)
    return (
        select(g.principal_id)
        .where(
            g.resource_type == RESOURCE,
            g.resource_id == knowledge_id,
            g.principal_type == "user",
            g.permission == "write",
            g.principal_id != EVERYONE,
        )
        .correlate_except(g)
        .scalar_subquery()
    )


def _owner_grants_write(
    file_id: ColumnElement,
    file_owner: ColumnElement,
    grantee_ok: ColumnElement[bool],
    g: type[AccessGrant],
) -> ColumnElement[bool]:
    """The file's owner put it in a collection of theirs that grants write to a principal
    matching `grantee_ok`."""
    link, owned = aliased(KnowledgeFile), aliased(Knowledge)
    # Explicit correlation: this sits up to three queries deep, where auto-correlation stops.
    return (
        exists()
        .where(
            link.file_id == file_id,
            owned.id == link.knowledge_id,
            owned.user_id == file_owner,
            g.resource_type == RESOURCE,
            g.resource_id == owned.id,
            g.permission == "write",
            grantee_ok,
        )
        .correlate_except(link, owned, g)
    )


def file_writable(user: UserInfo) -> ColumnElement[bool]:
    """A WHERE clause on the `file` table: files `user` may write (and so add to a collection)."""
    if user.is_admin:
        return true()
    g = aliased(AccessGrant)
    to_user = or_(
        g.principal_type == "anyone",
        and_(g.principal_type == "user", g.principal_id.in_([user.id, EVERYONE])),
    )
    return or_(F.user_id == user.id, _owner_grants_write(F.id, F.user_id, to_user, g))


def link_serves(
    knowledge: type[Knowledge], file_id: ColumnElement, file_owner: ColumnElement
) -> ColumnElement[bool]:
    """Whether a link from `knowledge` to the file still serves it (see the module docstring)."""
    g = aliased(AccessGrant)
    to_answerer = or_(
        g.principal_type == "anyone",
        g.principal_id == EVERYONE,
        and_(
            g.principal_type == "user",
            or_(
                g.principal_id == knowledge.user_id,
                g.principal_id.in_(_named_writers(knowledge.id)),
            ),
        ),
    )
    return or_(
        file_owner == knowledge.user_id,
        file_owner.in_(_named_writers(knowledge.id)),
        is_admin(knowledge.user_id),
        _owner_grants_write(file_id, file_owner, to_answerer, g),
    )


def file_readable(user: UserInfo) -> ColumnElement[bool]:
    """A WHERE clause on the `file` table: files `user` may read (own, admin, or via a
    collection)."""
    if user.is_admin:
        return true()
    via_collection = exists(
        select(KnowledgeFile.file_id)
        .join(Knowledge, Knowledge.id == KnowledgeFile.knowledge_id)
        .where(
            KnowledgeFile.file_id == F.id, can_read(user), link_serves(Knowledge, F.id, F.user_id)
        )
    )
    return or_(F.user_id == user.id, via_collection)
