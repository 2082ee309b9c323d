from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wayline.core.storable import DESCRIPTION_MAX, OpenModel, StorableObject, json_object
from wayline.users.tables import User

Role = Literal["admin", "user", "pending"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(value: str) -> str:
    """The address as stored (trimmed, lower case); ValueError when it is not one."""
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("invalid email format")
    return value


@dataclass(frozen=True)
class UserInfo:
    """An immutable snapshot of a user, safe to cache between requests. `group_ids` are the
    groups the user belongs to, directly or by inheritance: what group grants are checked
    against (filled in with the credential; every membership change drops the cached copies)."""

    id: str
    email: str
    name: str
    role: str
    profile_image_url: str
    token_epoch: int
    created_at: int
    updated_at: int
    last_active_at: int
    group_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, row: User, group_ids: frozenset[str] = frozenset()) -> UserInfo:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            profile_image_url=row.profile_image_url,
            token_epoch=row.token_epoch,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_active_at=row.last_active_at,
            group_ids=group_ids,
        )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_verified(self) -> bool:
        return self.role in ("admin", "user")


class UserResponse(BaseModel):
    """An account as the admin and its owner see it (Open WebUI's `UserModel`; the per-account
    documents are only filled in where the row was read whole)."""

    id: str
    email: str
    name: str
    role: str
    profile_image_url: str
    bio: str | None = None
    status_emoji: str | None = None
    status_message: str | None = None
    status_expires_at: int | None = None
    info: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    created_at: int
    updated_at: int
    last_active_at: int

    @classmethod
    def of(cls, user: UserInfo) -> UserResponse:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            profile_image_url=user.profile_image_url,
            created_at=user.created_at,
            updated_at=user.updated_at,
            last_active_at=user.last_active_at,
        )

    @classmethod
    def of_row(cls, row: User) -> UserResponse:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            profile_image_url=row.profile_image_url,
            bio=row.bio,
            status_emoji=row.status_emoji,
            status_message=row.status_message,
            status_expires_at=row.status_expires_at,
            info=row.info,
            settings=row.settings,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_active_at=row.last_active_at,
        )


class UserWithGroups(UserResponse):
    group_ids: list[str] = Field(default_factory=list)


class UserListResponse(BaseModel):
    users: list[UserWithGroups]
    total: int


class GroupRef(BaseModel):
    id: str
    name: str


class UserStatus(BaseModel):
    status_emoji: str | None = None
    status_message: str | None = None
    status_expires_at: int | None = None


class UserInfoResponse(UserStatus):
    """What any signed-in user may read about another (Open WebUI's `UserInfoResponse`)."""

    id: str
    name: str
    email: str
    role: str
    bio: str | None = None
    last_active_at: int | None = None
    timezone: str | None = None
    groups: list[GroupRef] = Field(default_factory=list)
    is_active: bool = False

    @classmethod
    def of_row(
        cls, row: User, active: bool, groups: list[GroupRef] | None = None
    ) -> UserInfoResponse:
        return cls(
            id=row.id,
            name=row.name,
            email=row.email,
            role=row.role,
            bio=row.bio,
            last_active_at=row.last_active_at,
            status_emoji=row.status_emoji,
            status_message=row.status_message,
            status_expires_at=row.status_expires_at,
            groups=groups or [],
            is_active=active,
        )


class UserInfoListResponse(BaseModel):
    users: list[UserInfoResponse]
    total: int


class UserActiveResponse(UserResponse):
    """`GET /api/v1/users/{id}`: the account, its groups and whether it is active now."""

    groups: list[GroupRef] = Field(default_factory=list)
    is_active: bool = False


class UserSettings(OpenModel):
    """The UI's settings document: `ui` plus whatever else the client keeps there."""

    ui: StorableObject | None = Field(default_factory=dict)

    @model_validator(mode="after")
    def _storable(self) -> UserSettings:
        json_object(self.model_dump())
        return self


class UserStatusForm(BaseModel):
    status_emoji: str | None = Field(default=None, max_length=64)
    status_message: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    status_expires_at: int | None = Field(default=None, ge=0, le=2**53)


# Open WebUI's rules for `{{user.variables.name}}` values (utils/chat_variables.py).
VARIABLE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
VARIABLE_VALUE_MAX = 20_000
VARIABLES_MAX = 100_000


class UserVariablesForm(BaseModel):
    variables: dict[str, Any] = Field(default_factory=dict)


class UserVariablesResponse(BaseModel):
    variables: dict[str, str] = Field(default_factory=dict)


class RoleUpdateForm(BaseModel):
    model_config = ConfigDict(extra="forbid")  # changes access: an unknown field is an error

    id: str = Field(max_length=64)
    role: Role


class UserUpdateForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    name: str | None = Field(default=None, min_length=1, max_length=256)
    email: str | None = Field(default=None, max_length=320)
    profile_image_url: str | None = Field(default=None, max_length=256 * 1024)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
