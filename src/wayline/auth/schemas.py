from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from wayline.users.schemas import Role

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _normalise_email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("invalid email format")
    return value


class SigninForm(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)

    _email = field_validator("email")(lambda cls, v: v.strip().lower())


class SignupForm(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    profile_image_url: str = "/user.png"


class AddUserForm(SignupForm):
    role: Role = "pending"


class UpdatePasswordForm(BaseModel):
    password: str = Field(max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UpdateProfileForm(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    profile_image_url: str = "/user.png"


class SessionUserResponse(BaseModel):
    token: str
    token_type: str = "Bearer"
    expires_at: int | None
    id: str
    email: str
    name: str
    role: str
    profile_image_url: str
    permissions: dict[str, Any]


class ApiKeyResponse(BaseModel):
    api_key: str


class ApiKeyCreateForm(BaseModel):
    name: str = Field(default="API key", min_length=1, max_length=256)
    expires_in_days: float | None = Field(default=None, gt=0, le=36500)


class ApiKeyInfo(BaseModel):
    id: str
    name: str
    masked: str
    is_default: bool
    created_at: int
    expires_at: int | None
    last_used_at: int | None


class CreatedApiKey(ApiKeyInfo):
    api_key: str


def check_email(value: str) -> str:
    return _normalise_email(value)
