"""The admin's access previews: what a user, or the members of a group, can reach (Open WebUI's
`GET /api/v1/users/{id}/preview` and `GET /api/v1/groups/id/{id}/preview`).

They read workspace models and collections through the same grant clause as every access check
(`core.grants.granted`), so a preview shows exactly what the rules allow. Wayline has no tools:
that section is always empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.grants import Grantee
from wayline.core.runtime_config import RuntimeConfig
from wayline.knowledge.repository import access_preview as knowledge_preview
from wayline.models.repository import access_preview as model_preview
from wayline.users.group_repository import GroupRepository
from wayline.users.group_schemas import default_models
from wayline.users.group_service import group_not_found
from wayline.users.permissions import PermissionService
from wayline.users.repository import UserRepository
from wayline.users.service import user_not_found


@dataclass(frozen=True)
class Audience:
    """Whom a preview is for: a user and their groups, or (id "") a group's members as such."""

    id: str
    group_ids: frozenset[str]


def _section(items: list[tuple[str, str]], total: int) -> dict[str, Any]:
    return {"items": [{"id": i, "name": n} for i, n in items], "total": total}


class AccessPreview:
    def __init__(self, session: AsyncSession, config: RuntimeConfig) -> None:
        self.session = session
        self.config = config
        self.groups = GroupRepository(session)

    async def _reach(self, audience: Grantee, owner_id: str | None) -> dict[str, Any]:
        models = await model_preview(self.session, audience, owner_id)
        knowledge = await knowledge_preview(self.session, audience, owner_id)
        return {
            "models": _section(*models),
            "knowledge": _section(*knowledge),
            "tools": {"items": [], "total": 0},
        }

    async def of_user(self, user_id: str) -> dict[str, Any]:
        user = await UserRepository(self.session).get(user_id)
        if user is None:
            raise user_not_found(user_id)
        groups = (await self.groups.groups_of([user_id], inherited=True))[user_id]
        audience = Audience(user_id, frozenset(g.id for g in groups))
        return {
            "user": {"id": user.id, "name": user.name},
            "groups": [{"id": g.id, "name": g.name} for g in groups],
            **await self._reach(audience, user_id),
        }

    async def of_group(self, group_id: str) -> dict[str, Any]:
        group = await self.groups.get(group_id)
        if group is None:
            raise group_not_found(group_id)
        ancestors = await self.groups.ancestors(group_id)
        audience = Audience("", frozenset([group_id, *(g.id for g in ancestors)]))
        inherited, effective = await PermissionService(self.session, self.config).of_group(group)
        return {
            "group": {"id": group.id, "name": group.name},
            "default_models": default_models(group, ancestors),
            **await self._reach(audience, None),
            "permissions": group.permissions or {},
            "inherited_permissions": inherited,
            "effective_permissions": effective,
        }
