from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    """An immutable snapshot of a user, safe to cache between requests."""

    id: str
    email: str
    name: str
    role: str
    profile_image_url: str
    token_epoch: int
    created_at: int
    updated_at: int
    last_active_at: int

    @classmethod
    def of(cls, row: User) -> UserInfo:
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
        )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_verified(self) -> bool:
        return self.role in ("admin", "user")


class UserResponse(BaseModel):
    id: str
    email: str
    name: str
    role: str
    profile_image_url: str
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


class UserListResponse(BaseModel):
    users: list[UserResponse]
    total: int


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
