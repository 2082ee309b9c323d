"""Wire models for `/api/v1/models` (Open WebUI's `ModelForm`; unknown fields accepted)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AccessGrantForm(_Open):
    # principal_type "user" with principal_id "*" (or "anyone") means every user.
    principal_type: Literal["user", "anyone"] = "user"
    principal_id: str = Field("*", min_length=1, max_length=255)
    permission: Literal["read", "write"] = "read"


class ModelForm(_Open):
    id: str = Field(min_length=1, max_length=256)
    base_model_id: str | None = Field(None, max_length=256)
    name: str = Field(min_length=1, max_length=512)
    meta: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    access_grants: list[AccessGrantForm] | None = None
    is_active: bool = True

    @field_validator("id")
    @classmethod
    def _no_whitespace(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("Model id must not contain whitespace")
        return value

    @field_validator("base_model_id")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


class ModelIdForm(_Open):
    id: str = Field(min_length=1, max_length=256)


class ModelResponse(_Open):
    id: str
    user_id: str
    base_model_id: str | None
    name: str
    params: dict[str, Any]
    meta: dict[str, Any]
    access_grants: list[dict[str, Any]]
    is_active: bool
    created_at: int
    updated_at: int
    write_access: bool = False


class ModelListResponse(BaseModel):
    items: list[ModelResponse]
    total: int
