from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wayline.auth.limits.schemas import LimitFields, LimitsInfo
from wayline.users.schemas import Role


class SigninForm(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)

    _email = field_validator("email")(lambda cls, v: v.strip().lower())


# A profile image is a URL or, as Open WebUI's UI sends it, a data URL of a small resized
# picture (tens of KB); a few hundred KB is ample and keeps a stored row small.
PROFILE_IMAGE_MAX = 256 * 1024


class StrictForm(BaseModel):
    """A form that creates a credential or changes access: an unknown field is an error (422),
    so nobody walks away believing a setting took effect when it was dropped."""

    model_config = ConfigDict(extra="forbid")


class SignupForm(StrictForm):
    name: str = Field(min_length=1, max_length=256)
    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    profile_image_url: str = Field(default="/user.png", max_length=PROFILE_IMAGE_MAX)


class AddUserForm(SignupForm):
    role: Role = "pending"


class UpdatePasswordForm(StrictForm):
    password: str = Field(max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UpdateProfileForm(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    profile_image_url: str = Field(default="/user.png", max_length=PROFILE_IMAGE_MAX)


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


_CENTURY = 36500 * 86400


class ApiKeyCreateForm(StrictForm, LimitFields):
    name: str = Field(default="API key", min_length=1, max_length=256)
    expires_in_days: float | None = Field(default=None, gt=0, le=36500)
    expires_at: int | None = Field(default=None, description="expiry as a Unix time in seconds")

    @model_validator(mode="after")
    def _one_expiry(self) -> ApiKeyCreateForm:
        if self.expires_at is not None:
            if self.expires_in_days is not None:
                raise ValueError("give expires_at or expires_in_days, not both")
            current = int(time.time())
            if not current < self.expires_at <= current + _CENTURY:
                raise ValueError(
                    "expires_at must be a future Unix time in seconds (within 100 years)"
                )
        return self


class ApiKeyUpdateForm(StrictForm, LimitFields):
    """A key's new name and limits: the fields sent change (null clears one), the others stay."""

    name: str | None = Field(default=None, min_length=1, max_length=256)


class ApiKeyInfo(LimitsInfo):
    """A key as listed: never its secret; its own limits (its user's apply too)."""

    id: str
    name: str
    masked: str
    is_default: bool
    created_at: int
    expires_at: int | None
    last_used_at: int | None


class CreatedApiKey(ApiKeyInfo):
    api_key: str
