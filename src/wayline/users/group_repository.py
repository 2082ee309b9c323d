"""SQL for groups, their members and their hierarchy.

Other domains reach these tables only through this module: `members_of` and `in_group` build the
clauses their access rules need (a group's members, inherited ones included, in the same
statement), and `effective_group_ids` is what a credential lookup reads.

Membership is inherited upwards: a member of a group is a member of each group above it. The
`group_lineage` closure table holds every (ancestor, group) pair, so "members of G" is one join
(`group_member` ⋈ `group_lineage` on ancestor G), never a recursive query; `rebuild_lineage`
rewrites it after any change to the hierarchy, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.clock import now
from wayline.core.grants import GROUP, drop_grants_to
from wayline.users.tables import Group, GroupLineage, GroupMember, User

# Hierarchy writers take turns on PostgreSQL (SQLite's write lock already serialises them), so
# two concurrent re-parentings cannot build a cycle that neither saw.
HIERARCHY_LOCK = 731_947_205


def members_of(group_ids: Any) -> Select[Any]:
    """The ids of the users in a group, directly or through a group below it. `group_ids` is
    one group (a column or value of the enclosing query) or a query of group ids."""
    member, lineage = aliased(GroupMember), aliased(GroupLineage)
    which = (
        lineage.ancestor_id.in_(group_ids)
        if isinstance(group_ids, Select)
        else lineage.ancestor_id == group_ids
    )
    return (
        select(member.user_id)
        .join(lineage, lineage.group_id == member.group_id)
        .where(which)
        .correlate_except(member, lineage)
    )


def in_group(user_id: Any, group_id: Any) -> ColumnElement[bool]:
    """A clause: the user `user_id` belongs to group `group_id` (inherited membership too)."""
    member, lineage = aliased(GroupMember), aliased(GroupLineage)
    return (
        select(member.user_id)
        .join(lineage, lineage.group_id == member.group_id)
        .where(lineage.ancestor_id == group_id, member.user_id == user_id)
        .correlate_except(member, lineage)
        .exists()
    )


class GroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- groups ----------------------------------------------------------------------------
    async def get(self, group_id: str) -> Group | None:
        return await self.session.get(Group, group_id)

    async def lock(self, group_id: str) -> Group | None:
        """The group, its row locked for this (write) transaction on PostgreSQL: membership
        changes of one group queue, and a concurrent delete waits for them."""
        stmt = select(Group).where(Group.id == group_id).with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock_hierarchy(self) -> None:
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            await self.session.execute(text(f"SELECT pg_advisory_xact_lock({HIERARCHY_LOCK})"))

    async def all(self) -> list[Group]:
        stmt = select(Group).order_by(Group.updated_at.desc(), Group.id)
        return list((await self.session.execute(stmt)).scalars())

    async def by_ids(self, group_ids: Iterable[str]) -> list[Group]:
        ids = set(group_ids)
        if not ids:
            return []
        stmt = select(Group).where(Group.id.in_(ids)).order_by(Group.updated_at.desc(), Group.id)
        return list((await self.session.execute(stmt)).scalars())

    async def existing_ids(self, group_ids: Iterable[str]) -> set[str]:
        ids = set(group_ids)
        if not ids:
            return set()
        stmt = select(Group.id).where(Group.id.in_(ids))
        return set((await self.session.execute(stmt)).scalars())

    async def member_counts(self, group_ids: Sequence[str]) -> dict[str, int]:
        """Direct members per group (Open WebUI's `member_count`)."""
        if not group_ids:
            return {}
        stmt = (
            select(GroupMember.group_id, func.count())
            .where(GroupMember.group_id.in_(set(group_ids)))
            .group_by(GroupMember.group_id)
        )
        return {gid: n for gid, n in (await self.session.execute(stmt)).all()}

    async def ancestors(self, group_id: str) -> list[Group]:
        """The groups above `group_id` (not itself)."""
        stmt = (
            select(Group)
            .join(GroupLineage, GroupLineage.ancestor_id == Group.id)
            .where(GroupLineage.group_id == group_id, Group.id != group_id)
            .order_by(Group.created_at, Group.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def is_within(self, candidate: str, group_id: str) -> bool:
        """Whether `candidate` is `group_id` or a group below it."""
        stmt = select(GroupLineage.group_id).where(
            GroupLineage.ancestor_id == group_id, GroupLineage.group_id == candidate
        )
        return (await self.session.execute(stmt)).first() is not None

    def add(self, group: Group) -> None:
        self.session.add(group)

    async def delete(self, group: Group) -> list[str]:
        """Delete a group: its children move up to its parent, grants naming it go, its
        memberships go with it (ON DELETE CASCADE). The ids of the children moved."""
        children = list(
            (
                await self.session.execute(
                    select(Group.id).where(Group.parent_group_id == group.id)
                )
            ).scalars()
        )
        if children:
            await self.session.execute(
                update(Group)
                .where(Group.id.in_(children))
                .values(parent_group_id=group.parent_group_id, updated_at=now())
            )
        await drop_grants_to(self.session, GROUP, group.id)
        await self.session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
        await self.session.execute(
            delete(GroupLineage).where(
                or_(GroupLineage.group_id == group.id, GroupLineage.ancestor_id == group.id)
            )
        )
        await self.session.execute(delete(Group).where(Group.id == group.id))
        return children

    async def rebuild_lineage(self) -> None:
        """Rewrite the closure table from the parent links (groups are few; an admin action)."""
        await self.session.flush()
        parents = dict((await self.session.execute(select(Group.id, Group.parent_group_id))).all())
        rows = []
        for group_id in parents:
            seen: set[str] = set()
            current: str | None = group_id
            while current is not None and current in parents and current not in seen:
                seen.add(current)
                rows.append({"ancestor_id": current, "group_id": group_id})
                current = parents[current]
        await self.session.execute(delete(GroupLineage))
        if rows:
            await self.session.execute(insert(GroupLineage), rows)

    # --- members --------------------------------------------------------------------------
    async def direct_member_ids(self, group_id: str) -> list[str]:
        stmt = (
            select(GroupMember.user_id)
            .where(GroupMember.group_id == group_id)
            .order_by(GroupMember.created_at, GroupMember.user_id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def direct_members(self, group_id: str) -> list[User]:
        stmt = (
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group_id)
            .order_by(User.name, User.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def add_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        """Add members, skipping those already in (a concurrent add of the same member
        included)."""
        if not user_ids:
            return
        stamp = now()
        rows = [
            {"group_id": group_id, "user_id": uid, "created_at": stamp, "updated_at": stamp}
            for uid in dict.fromkeys(user_ids)
        ]
        dialect = postgresql if self._dialect() == "postgresql" else sqlite
        await self.session.execute(
            dialect.insert(GroupMember).values(rows).on_conflict_do_nothing()
        )

    async def remove_members(self, group_id: str, user_ids: Sequence[str]) -> int:
        if not user_ids:
            return 0
        result = await self.session.execute(
            delete(GroupMember).where(
                GroupMember.group_id == group_id, GroupMember.user_id.in_(set(user_ids))
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind is not None else ""

    # --- a user's groups ------------------------------------------------------------------
    async def effective_group_ids(self, user_id: str) -> frozenset[str]:
        """Every group `user_id` belongs to, directly or by inheritance."""
        stmt = (
            select(GroupLineage.ancestor_id)
            .join(GroupMember, GroupMember.group_id == GroupLineage.group_id)
            .where(GroupMember.user_id == user_id)
        )
        return frozenset((await self.session.execute(stmt)).scalars())

    async def groups_of(
        self, user_ids: Sequence[str], inherited: bool = False
    ) -> dict[str, list[Group]]:
        """Each user's groups: direct ones, or with `inherited` every group they belong to."""
        out: dict[str, list[Group]] = {uid: [] for uid in user_ids}
        if not user_ids:
            return out
        if inherited:
            stmt = (
                select(GroupMember.user_id, Group)
                .join(GroupLineage, GroupLineage.group_id == GroupMember.group_id)
                .join(Group, Group.id == GroupLineage.ancestor_id)
                .where(GroupMember.user_id.in_(set(user_ids)))
            )  # no DISTINCT: PostgreSQL cannot compare JSON columns; duplicates go below
        else:
            stmt = (
                select(GroupMember.user_id, Group)
                .join(Group, Group.id == GroupMember.group_id)
                .where(GroupMember.user_id.in_(set(user_ids)))
            )
        rows = (await self.session.execute(stmt)).all()
        for uid, group in sorted(rows, key=lambda r: (-r[1].updated_at, r[1].id)):
            if not out[uid] or out[uid][-1].id != group.id:
                out[uid].append(group)
        return out

    # --- a group's members, for the admin ---------------------------------------------------
    async def member_page(
        self, group_id: str, membership: str, query: str, skip: int, limit: int
    ) -> tuple[list[User], int, dict[str, int]]:
        """Members of a group (direct, inherited or both), by name: a page, its total, and the
        counts of each kind."""
        direct = select(GroupMember.user_id).where(GroupMember.group_id == group_id)
        effective = members_of(group_id)
        count = select(func.count()).select_from
        direct_n = (await self.session.execute(count(direct.subquery()))).scalar_one()
        effective_n = (
            await self.session.execute(count(effective.distinct().subquery()))
        ).scalar_one()
        stmt = select(User).where(User.id.in_(effective))
        if membership == "direct":
            stmt = stmt.where(User.id.in_(direct))
        elif membership == "inherited":
            stmt = stmt.where(User.id.not_in(direct))
        if query:
            pattern = f"%{query.lower()}%"
            stmt = stmt.where(
                or_(func.lower(User.name).like(pattern), func.lower(User.email).like(pattern))
            )
        total = (await self.session.execute(count(stmt.subquery()))).scalar_one()
        page = stmt.order_by(User.name, User.id).offset(skip).limit(limit)
        users = list((await self.session.execute(page)).scalars())
        counts = {"direct": direct_n, "effective": effective_n, "inherited": effective_n - direct_n}
        return users, total, counts

    async def via_groups(self, group_id: str, user_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each user, the groups at or below `group_id` they are a direct member of."""
        out: dict[str, list[str]] = {uid: [] for uid in user_ids}
        if not user_ids:
            return out
        stmt = (
            select(GroupMember.user_id, GroupMember.group_id)
            .join(GroupLineage, GroupLineage.group_id == GroupMember.group_id)
            .where(GroupLineage.ancestor_id == group_id, GroupMember.user_id.in_(set(user_ids)))
        )
        for uid, gid in (await self.session.execute(stmt)).all():
            out[uid].append(gid)
        return out
