"""Who may read or write a collection or a file, as SQL (every list and lookup is scoped in the
query).

Collections: the owner and admins may do anything; an `access_grant` row (resource_type
"knowledge") gives a user, a group or everyone `read` or `write` (write implies read). Open
WebUI's public form — principal_type "user", principal_id "*" — is everyone. A group grant
reaches each member of the group, directly or through a group below it.

Files: the owner and admins may read and write a file. Its owner shares it by putting it in
a collection of theirs: a `read` grant on that collection lets the grantee read the file, a
`write` grant lets them also write it — and so add it to collections of their own.

A link (collection → file) serves the file only while someone who answers for the collection
may still write the file. Who answers for a collection: its owner, a user granted write on it
by name, and each member of a group granted write on it — named people, whom the owner chose
(not "everyone": that is nobody in particular). So a link serves while the file's owner answers
for the collection, or the collection's owner is an admin, or the file's owner put it in a
collection of theirs that grants write to one who answers for this one (by name, through a
group they are in, or as everyone). Group memberships are read in the same statement, never
from a cache: revoking a grant or removing a member stops every link that depended on it at
once, for everyone the collection is shared with.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.grants import EVERYONE, GROUP, AccessGrant, granted, names
from wayline.files.repository import file_table
from wayline.knowledge.tables import Knowledge, KnowledgeFile
from wayline.users.group_repository import in_group, members_of
from wayline.users.repository import is_admin
from wayline.users.schemas import UserInfo

RESOURCE = "knowledge"

# The files domain's table, read here (never written) to scope files in the same query.
F = file_table.c


def _granted(user: UserInfo, permissions: tuple[str, ...]) -> ColumnElement[bool]:
    return granted(RESOURCE, Knowledge.id, user, permissions)


def can_read(user: UserInfo) -> ColumnElement[bool]:
    """A WHERE clause on `Knowledge`: collections `user` may read."""
    if user.is_admin:
        return true()
    return or_(Knowledge.user_id == user.id, _granted(user, ("read", "write")))


def can_write(user: UserInfo) -> ColumnElement[bool]:
    if user.is_admin:
        return true()
    return or_(Knowledge.user_id == user.id, _granted(user, ("write",)))


def _writes_by_grant(knowledge: type[Knowledge], user_id: Any) -> ColumnElement[bool]:
    """The user `user_id` answers for the collection through a write grant: one naming them,
    or one naming a group they belong to. (An EXISTS per candidate, not a list of every
    writer: the database stops at the first match, through the grants' index.)"""
    g, via = aliased(AccessGrant), aliased(AccessGrant)
    by_name = (
        exists()
        .where(
            g.resource_type == RESOURCE,
            g.resource_id == knowledge.id,
            g.principal_type == "user",
            g.permission == "write",
            g.principal_id == user_id,
        )
        .correlate_except(g)
    )
    by_group = (
        exists()
        .where(
            via.resource_type == RESOURCE,
            via.resource_id == knowledge.id,
            via.principal_type == GROUP,
            via.permission == "write",
            in_group(user_id, via.principal_id),
        )
        .correlate_except(via)
    )
    return or_(by_name, by_group)


def _answerer_in_group(knowledge: type[Knowledge], group_id: Any) -> ColumnElement[bool]:
    """Someone who answers for the collection belongs to group `group_id`."""
    members = members_of(group_id)
    writer_in_group = members.where(
        _writes_by_grant(knowledge, members.selected_columns[0])
    ).exists()
    return or_(in_group(knowledge.user_id, group_id), writer_in_group)


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
    return or_(F.user_id == user.id, _owner_grants_write(F.id, F.user_id, names(g, user), g))


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
                _writes_by_grant(knowledge, g.principal_id),
            ),
        ),
        and_(g.principal_type == GROUP, _answerer_in_group(knowledge, g.principal_id)),
    )
    return or_(
        file_owner == knowledge.user_id,
        _writes_by_grant(knowledge, file_owner),
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
