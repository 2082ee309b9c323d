"""Access grants: the one `access_grant` table every shareable resource uses.

A row gives a principal `read` or `write` (write implies read) on one resource
(`resource_type` "model", "knowledge", ...). The principal is a user (principal_type "user",
principal_id their id), a group (principal_type "group": every member of the group, directly or
through a group below it), or everyone: Open WebUI's public form is principal_type "user" with
principal_id "*"; principal_type "anyone" means the same. Owners and admins need no row.
Repositories build their WHERE clauses with `granted`, so "who may see this" is decided in SQL,
never after the fact; the caller's groups come with them (`Grantee.group_ids`, loaded with the
credential and dropped from every cache when a membership changes).

`AccessGrantForm` is a grant as clients send it (models and knowledge take the same form).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

from sqlalchemy import BigInteger, String, and_, delete, exists, false, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from wayline.core.clock import new_id, now
from wayline.core.db import Base
from wayline.core.storable import IdText, OpenModel

EVERYONE = "*"
GROUP = "group"
Grant = tuple[str, str, str]  # (principal_type, principal_id, permission)


class Grantee(Protocol):
    """Whom a grant may name: an account and the groups it belongs to (inherited ones
    included). `users.schemas.UserInfo` is one."""

    @property
    def id(self) -> str: ...

    @property
    def group_ids(self) -> frozenset[str]: ...


class AccessGrantForm(OpenModel):
    """One grant, as Open WebUI's clients send it: principal_type "user" with principal_id "*"
    (or principal_type "anyone") means every user; principal_type "group" names a group by id
    (the services check that it exists)."""

    principal_type: Literal["user", "anyone", "group"] = "user"
    principal_id: IdText = EVERYONE
    permission: Literal["read", "write"] = "read"


def group_ids_of(forms: Iterable[AccessGrantForm] | None) -> list[str]:
    """The groups a list of grants names, each once, in order."""
    return list(dict.fromkeys(f.principal_id for f in forms or () if f.principal_type == GROUP))


class AccessGrant(Base):
    __tablename__ = "access_grant"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(255))
    principal_type: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[str] = mapped_column(String(255))
    permission: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[int] = mapped_column(BigInteger)


def names(g: Any, grantee: Grantee) -> ColumnElement[bool]:
    """A clause on an `AccessGrant` row (or an alias of the table): it names `grantee`, by id,
    through one of their groups, or as everyone."""
    to_user = and_(g.principal_type == "user", g.principal_id.in_([grantee.id, EVERYONE]))
    to_group = (
        and_(g.principal_type == GROUP, g.principal_id.in_(sorted(grantee.group_ids)))
        if grantee.group_ids
        else false()
    )
    return or_(to_user, to_group, g.principal_type == "anyone")


def granted(
    resource_type: str,
    resource_id: SQLColumnExpression[Any],
    grantee: Grantee,
    permissions: Sequence[str],
) -> ColumnElement[bool]:
    """True where a grant gives `grantee` (by id, through a group, or as everyone) one of
    `permissions` on the row's resource."""
    g = AccessGrant
    return exists().where(
        g.resource_type == resource_type,
        g.resource_id == resource_id,
        g.permission.in_(permissions),
        names(g, grantee),
    )


async def grants_of(
    session: AsyncSession, resource_type: str, resource_ids: Sequence[str]
) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {i: [] for i in resource_ids}
    if not resource_ids:
        return out
    g = AccessGrant
    stmt = (
        select(g.resource_id, g.principal_type, g.principal_id, g.permission)
        .where(g.resource_type == resource_type, g.resource_id.in_(resource_ids))
        .order_by(g.created_at, g.id)
    )
    for rid, ptype, pid, perm in (await session.execute(stmt)).all():
        out[rid].append({"principal_type": ptype, "principal_id": pid, "permission": perm})
    return out


async def replace_grants(
    session: AsyncSession, resource_type: str, resource_id: str, grants: Iterable[Grant]
) -> None:
    """Make `grants` the resource's whole grant list (de-duplicated, order kept), in the caller's
    transaction."""
    g = AccessGrant
    await session.execute(
        delete(g).where(g.resource_type == resource_type, g.resource_id == resource_id)
    )
    rows = [
        {
            "id": new_id(),
            "resource_type": resource_type,
            "resource_id": resource_id,
            "principal_type": ptype,
            "principal_id": pid,
            "permission": perm,
            "created_at": now(),
        }
        for ptype, pid, perm in dict.fromkeys(grants)
    ]
    if rows:
        await session.execute(insert(g), rows)


async def drop_grants_to(session: AsyncSession, principal_type: str, principal_id: str) -> None:
    """Delete every grant naming one principal (a deleted group), in the caller's transaction."""
    g = AccessGrant
    await session.execute(
        delete(g).where(g.principal_type == principal_type, g.principal_id == principal_id)
    )
