"""Wire models for `/api/v1/groups` (Open WebUI 0.12's `models/groups.py` and `routers/groups.py`
field names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from wayline.core.storable import (
    ID_MAX,
    DescriptionText,
    IdText,
    NameText,
    OpenModel,
    StorableObject,
)
from wayline.users.schemas import UserInfoResponse
from wayline.users.tables import Group

# Who may name the group in a grant, as Open WebUI's `data.config.share`: True (anyone),
# False (no one but admins), "members" (its members; the default for new groups).
DEFAULT_SHARE = "members"
USER_IDS_MAX = 10_000


class GroupForm(OpenModel):
    # A string, not `IdText`: an empty one is Open WebUI's 400 "must be a group ID or null".
    parent_group_id: str | None = Field(default=None, max_length=ID_MAX)
    name: NameText
    description: DescriptionText = ""
    permissions: StorableObject | None = None
    data: StorableObject | None = None

    @field_validator("data")
    @classmethod
    def _config(cls, data: dict[str, Any] | None) -> dict[str, Any] | None:
        """`data.config` must be an object; its `default_models`, non-empty model ids (kept
        once each, trimmed)."""
        if data is None or "config" not in data:
            return data
        config = data["config"]
        if not isinstance(config, dict):
            raise ValueError("Group config must be an object.")
        models = config.get("default_models")
        if models is None:
            return data
        if not isinstance(models, list) or any(
            not isinstance(m, str) or not m.strip() for m in models
        ):
            raise ValueError("Default models must be a list of non-empty model IDs.")
        unique = list(dict.fromkeys(m.strip() for m in models))
        return {**data, "config": {**config, "default_models": unique}}


class UserIdsForm(OpenModel):
    user_ids: list[IdText] | None = Field(default=None, max_length=USER_IDS_MAX)


class GroupResponse(BaseModel):
    parent_group_id: str | None = None
    id: str
    user_id: str
    name: str
    description: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    permissions: dict[str, Any] | None = None
    created_at: int
    updated_at: int
    member_count: int | None = None

    @classmethod
    def of(cls, group: Group, member_count: int | None = None) -> GroupResponse:
        return cls(
            parent_group_id=group.parent_group_id,
            id=group.id,
            user_id=group.user_id,
            name=group.name,
            description=group.description,
            data=group.data,
            meta=group.meta,
            permissions=group.permissions,
            created_at=group.created_at,
            updated_at=group.updated_at,
            member_count=member_count,
        )


class GroupInfoResponse(BaseModel):
    """What any signed-in user may read about a group: no permissions, no settings."""

    parent_group_id: str | None = None
    id: str
    user_id: str
    name: str
    description: str
    member_count: int | None = None
    created_at: int
    updated_at: int


class GroupExportResponse(GroupResponse):
    user_ids: list[str] = Field(default_factory=list)


class UserGroupResponse(GroupResponse):
    """A user's group with `?include_inherited=true`: how they belong to it."""

    membership_type: Literal["direct", "inherited"]


class GroupMemberInfo(UserInfoResponse):
    membership_type: Literal["direct", "inherited"]
    via_group_ids: list[str] = Field(default_factory=list)


class GroupMembersResponse(BaseModel):
    items: list[GroupMemberInfo]
    total: int
    counts: dict[str, int]


def share_setting(group: Group) -> Any:
    """The group's `data.config.share` (None when unset)."""
    config = (group.data or {}).get("config")
    return config.get("share") if isinstance(config, dict) else None


def anyone_may_share(group: Group) -> bool:
    value = share_setting(group)
    return value is None or value is True or str(value).lower() in ("true", "1")


def members_may_share(group: Group) -> bool:
    return str(share_setting(group)).lower() == "members"


def no_one_may_share(group: Group) -> bool:
    value = share_setting(group)
    return value is False or str(value).lower() in ("false", "0")


def _own_default_models(group: Group) -> list[str] | None:
    config = (group.data or {}).get("config")
    models = config.get("default_models") if isinstance(config, dict) else None
    return list(models) if models else None


def default_models(group: Group, ancestors: list[Group]) -> dict[str, Any]:
    """The group's own default models and those its members get: the nearest group, walking up
    from this one, that sets `data.config.default_models` (Open WebUI's preview)."""
    by_id = {g.id: g for g in ancestors}
    current: Group | None = group
    seen: set[str] = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        own = _own_default_models(current)
        if own:
            return {
                "local": _own_default_models(group),
                "effective": own,
                "source_group_id": current.id,
            }
        current = by_id.get(current.parent_group_id or "")
    return {"local": None, "effective": [], "source_group_id": None}
