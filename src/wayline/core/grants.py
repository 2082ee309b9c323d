"""Access grants: the one `access_grant` table every shareable resource uses.

A row gives a principal `read` or `write` (write implies read) on one resource
(`resource_type` "model", "knowledge", ...). Open WebUI's public form is
principal_type "user" with principal_id "*"; principal_type "anyone" means the same.
Owners and admins need no row. Repositories build their WHERE clauses with `granted`,
so "who may see this" is decided in SQL, never after the fact.

`AccessGrantForm` is a grant as clients send it (models and knowledge take the same form).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import BigInteger, String, and_, delete, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from wayline.core.clock import new_id, now
from wayline.core.db import Base
from wayline.core.storable import IdText, OpenModel

EVERYONE = "*"
Grant = tuple[str, str, str]  # (principal_type, principal_id, permission)
GROUPS_UNSUPPORTED = (
    "Group grants are not supported: grant to users, or to everyone with principal_id '*'"
)


class AccessGrantForm(OpenModel):
    """One grant, as Open WebUI's clients send it: principal_type "user" with principal_id "*"
    (or principal_type "anyone") means every user. A "group" grant parses, so that the caller can
    refuse it by name (`refuse_groups`): Wayline has no groups."""

    principal_type: Literal["user", "anyone", "group"] = "user"
    principal_id: IdText = EVERYONE
    permission: Literal["read", "write"] = "read"


def refuse_groups(forms: Iterable[AccessGrantForm] | None) -> None:
    """ValueError (`GROUPS_UNSUPPORTED`) when one of the grants names a group."""
    if any(form.principal_type == "group" for form in forms or ()):
        raise ValueError(GROUPS_UNSUPPORTED)


class AccessGrant(Base):
    __tablename__ = "access_grant"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(255))
    principal_type: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[str] = mapped_column(String(255))
    permission: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[int] = mapped_column(BigInteger)


def granted(
    resource_type: str,
    resource_id: SQLColumnExpression[Any],
    user_id: str,
    permissions: Sequence[str],
) -> ColumnElement[bool]:
    """True where a grant gives `user_id` (or everyone) one of `permissions` on the row's
    resource."""
    g = AccessGrant
    return exists().where(
        g.resource_type == resource_type,
        g.resource_id == resource_id,
        g.permission.in_(permissions),
        or_(
            and_(g.principal_type == "user", g.principal_id.in_([user_id, EVERYONE])),
            g.principal_type == "anyone",
        ),
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
