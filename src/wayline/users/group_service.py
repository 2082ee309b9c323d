"""Groups (`/api/v1/groups`): admins manage them; every user sees the groups they belong to.

Every write is one transaction opened with `begin_write` before its first read. Membership changes
lock the group's row (PostgreSQL) and insert with ON CONFLICT DO NOTHING, so parallel adds of the
same members leave each member listed once; hierarchy changes also take the hierarchy lock and
rewrite the lineage table before committing. After a change to who belongs to what, the service
announces `ACCOUNTS_CHANGED`: every worker drops its cached credentials (which carry the user's
groups) and rebuilds its model list, so a removed member loses access on their next request.

`check_grant_targets` is what the models and knowledge services ask before storing grants that
name groups: every group must exist (400 naming the missing ones).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import new_id, now
from wayline.core.db import begin_write
from wayline.users.group_repository import GroupRepository
from wayline.users.group_schemas import (
    DEFAULT_SHARE,
    GroupExportResponse,
    GroupForm,
    GroupInfoResponse,
    GroupMemberInfo,
    GroupMembersResponse,
    GroupResponse,
    UserGroupResponse,
    anyone_may_share,
    members_may_share,
    no_one_may_share,
)
from wayline.users.repository import UserRepository
from wayline.users.schemas import UserInfo, UserInfoResponse
from wayline.users.service import ACCOUNTS_CHANGED
from wayline.users.tables import Group

MEMBERS_PAGE = 30


def group_not_found(group_id: str) -> errors.NotFound:
    return errors.NotFound(f"Group {group_id} not found")


async def check_grant_targets(session: AsyncSession, group_ids: Sequence[str]) -> None:
    """400 naming the groups among `group_ids` that do not exist."""
    existing = await GroupRepository(session).existing_ids(group_ids)
    missing = [g for g in dict.fromkeys(group_ids) if g not in existing]
    if missing:
        raise errors.BadRequest(
            f"Group{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)} "
            "(a grant's principal_id must name an existing group)"
        )


class GroupService:
    def __init__(self, session: AsyncSession, bus: Bus) -> None:
        self.session = session
        self.bus = bus
        self.groups = GroupRepository(session)

    async def _changed(self, reason: str) -> None:
        await self.bus.publish(ACCOUNTS_CHANGED, {"reason": reason})

    async def _get(self, group_id: str) -> Group:
        group = await self.groups.get(group_id)
        if group is None:
            raise group_not_found(group_id)
        return group

    async def _locked(self, group_id: str) -> Group:
        group = await self.groups.lock(group_id)
        if group is None:
            raise group_not_found(group_id)
        return group

    async def _response(self, group: Group) -> GroupResponse:
        counts = await self.groups.member_counts([group.id])
        return GroupResponse.of(group, counts.get(group.id, 0))

    # --- reading ------------------------------------------------------------------------
    async def visible_to(self, user: UserInfo, share: bool | None) -> list[GroupResponse]:
        """Admins: every group. Others: the groups they belong to; with `share=true` the groups
        they may name in a grant, with `share=false` those nobody but admins may."""
        if user.is_admin:
            groups = await self.groups.all()
        elif share is None:
            groups = await self.groups.by_ids(user.group_ids)
        elif share:
            groups = [
                g
                for g in await self.groups.all()
                if anyone_may_share(g) or (members_may_share(g) and g.id in user.group_ids)
            ]
        else:
            groups = [g for g in await self.groups.all() if no_one_may_share(g)]
        counts = await self.groups.member_counts([g.id for g in groups])
        return [GroupResponse.of(g, counts.get(g.id, 0)) for g in groups]

    async def get(self, group_id: str) -> GroupResponse:
        return await self._response(await self._get(group_id))

    async def info(self, group_id: str) -> GroupInfoResponse:
        return GroupInfoResponse(**(await self.get(group_id)).model_dump())

    async def export(self, group_id: str) -> GroupExportResponse:
        base = await self.get(group_id)
        return GroupExportResponse(
            **base.model_dump(), user_ids=await self.groups.direct_member_ids(group_id)
        )

    async def users(self, group_id: str) -> list[UserInfoResponse]:
        """The direct members (Open WebUI's `POST /id/{id}/users`)."""
        await self._get(group_id)
        return [
            UserInfoResponse.of_row(u, False) for u in await self.groups.direct_members(group_id)
        ]

    async def members(
        self, group_id: str, membership: str, query: str, page: int
    ) -> GroupMembersResponse:
        await self._get(group_id)
        users, total, counts = await self.groups.member_page(
            group_id, membership, query, (page - 1) * MEMBERS_PAGE, MEMBERS_PAGE
        )
        sources = await self.groups.via_groups(group_id, [u.id for u in users])
        items = [
            GroupMemberInfo(
                id=u.id,
                name=u.name,
                email=u.email,
                role=u.role,
                membership_type="direct" if group_id in sources[u.id] else "inherited",
                via_group_ids=sorted(g for g in sources[u.id] if g != group_id),
            )
            for u in users
        ]
        return GroupMembersResponse(items=items, total=total, counts=counts)

    async def of_user(
        self, user_id: str, include_inherited: bool
    ) -> list[GroupResponse] | list[UserGroupResponse]:
        direct = (await self.groups.groups_of([user_id]))[user_id]
        if not include_inherited:
            return [GroupResponse.of(g) for g in direct]
        direct_ids = {g.id for g in direct}
        return [
            UserGroupResponse(
                **GroupResponse.of(g).model_dump(),
                membership_type="direct" if g.id in direct_ids else "inherited",
            )
            for g in (await self.groups.groups_of([user_id], inherited=True))[user_id]
        ]

    # --- writing ------------------------------------------------------------------------
    async def _check_parent(self, group_id: str | None, parent_id: str | None) -> None:
        if parent_id is None:
            return
        if not parent_id:
            raise errors.BadRequest("Parent group must be a group ID or null.")
        if await self.groups.get(parent_id) is None:
            raise errors.NotFound(f"Parent group {parent_id} not found")
        if group_id is not None and await self.groups.is_within(parent_id, group_id):
            raise errors.BadRequest("A group cannot be its own parent or a descendant of itself.")

    async def create(self, actor: UserInfo, form: GroupForm) -> GroupResponse:
        await begin_write(self.session)
        await self.groups.lock_hierarchy()
        await self._check_parent(None, form.parent_group_id)
        data = dict(form.data or {})
        config = dict(data.get("config") or {})
        config.setdefault("share", DEFAULT_SHARE)
        data["config"] = config
        stamp = now()
        group = Group(
            id=new_id(),
            user_id=actor.id,
            parent_group_id=form.parent_group_id,
            name=form.name.strip(),
            description=form.description,
            data=data,
            meta=None,
            permissions=form.permissions,
            created_at=stamp,
            updated_at=stamp,
        )
        self.groups.add(group)
        await self.groups.rebuild_lineage()
        await self.session.commit()
        return GroupResponse.of(group, 0)

    async def update(self, group_id: str, form: GroupForm) -> GroupResponse:
        await begin_write(self.session)
        await self.groups.lock_hierarchy()
        group = await self._locked(group_id)
        moved = False
        if "parent_group_id" in form.model_fields_set:
            await self._check_parent(group_id, form.parent_group_id)
            moved = form.parent_group_id != group.parent_group_id
            group.parent_group_id = form.parent_group_id
        group.name, group.description = form.name.strip(), form.description
        if form.permissions is not None:
            group.permissions = form.permissions
        if form.data is not None:
            group.data = form.data
        group.updated_at = now()
        if moved:
            await self.groups.rebuild_lineage()
        await self.session.commit()
        if moved:  # members of this group now belong to other groups by inheritance
            await self._changed("group moved")
        return await self._response(group)

    async def add_users(self, group_id: str, user_ids: Sequence[str]) -> GroupResponse:
        wanted = list(dict.fromkeys(user_ids))
        await begin_write(self.session)
        group = await self._locked(group_id)
        known = await UserRepository(self.session).infos(wanted)
        unknown = [u for u in wanted if u not in known]
        if unknown:
            raise errors.BadRequest(f"Users not found: {', '.join(unknown)}; nobody was added")
        before = set(await self.groups.direct_member_ids(group_id))
        try:
            await self.groups.add_members(group_id, wanted)
            group.updated_at = now()
            await self.session.commit()
        except IntegrityError as exc:  # an account deleted meanwhile (PostgreSQL)
            await self.session.rollback()
            raise errors.BadRequest(
                "A user was deleted while being added; nobody was added"
            ) from exc
        if set(wanted) - before:
            await self._changed("group members added")
        return await self._response(group)

    async def remove_users(self, group_id: str, user_ids: Sequence[str]) -> GroupResponse:
        """Removing someone who is not a member changes nothing (no error: it is done)."""
        await begin_write(self.session)
        group = await self._locked(group_id)
        removed = await self.groups.remove_members(group_id, list(dict.fromkeys(user_ids)))
        group.updated_at = now()
        await self.session.commit()
        if removed:
            await self._changed("group members removed")
        return await self._response(group)

    async def delete(self, group_id: str) -> bool:
        await begin_write(self.session)
        await self.groups.lock_hierarchy()
        group = await self._locked(group_id)
        await self.groups.delete(group)
        await self.groups.rebuild_lineage()
        await self.session.commit()
        await self._changed("group deleted")
        return True
