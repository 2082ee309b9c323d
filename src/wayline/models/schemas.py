"""Wire models for `/api/v1/models` (Open WebUI's `ModelForm`; unknown fields accepted)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, field_validator

from wayline.core.grants import AccessGrantForm
from wayline.core.storable import (
    DESCRIPTION_MAX,
    ID_MAX,
    SYSTEM_PROMPT_MAX,
    IdText,
    NameText,
    OpenModel,
    StorableObject,
    capped,
    utf8,
)


class ModelForm(OpenModel):
    id: IdText
    base_model_id: Annotated[str, Field(max_length=ID_MAX), AfterValidator(utf8)] | None = None
    name: NameText
    meta: StorableObject = Field(default_factory=dict)
    params: StorableObject = Field(default_factory=dict)
    access_grants: list[AccessGrantForm] | None = None
    is_active: bool = True
    # Kept with the version this write saves (`/model/history`).
    commit_message: Annotated[str, Field(max_length=1000), AfterValidator(utf8)] | None = None

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

    @field_validator("params")
    @classmethod
    def _system_prompt_cap(cls, value: dict[str, Any]) -> dict[str, Any]:
        capped(value, "system", SYSTEM_PROMPT_MAX)
        return value

    @field_validator("meta")
    @classmethod
    def _description_cap(cls, value: dict[str, Any]) -> dict[str, Any]:
        capped(value, "description", DESCRIPTION_MAX)
        return value


class ModelIdForm(OpenModel):
    id: IdText


class ModelResponse(OpenModel):
    version_id: str | None = None
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


# --- Open WebUI's whole-collection routes (`models/bulk.py`) ---------------------------------

# Far above a real workspace; it bounds one import's or sync's work.
MAX_BULK = 1000


class ModelRecord(OpenModel):
    """A workspace model row as Open WebUI's `ModelModel` (no caller-specific `write_access`)."""

    version_id: str | None = None
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


class ModelAccessForm(OpenModel):
    """`POST /model/access/update`: a model's whole grant list (and a name, for a row made for a
    base model that had none)."""

    id: IdText
    name: NameText | None = None
    access_grants: list[AccessGrantForm]

    @field_validator("id")
    @classmethod
    def _no_whitespace(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("Model id must not contain whitespace")
        return value


class ModelsImportForm(BaseModel):
    """`POST /import`: models as `GET /export` answers them; each is checked as `ModelForm`."""

    models: list[dict[str, Any]] = Field(max_length=MAX_BULK)


class ModelSyncItem(ModelForm):
    """One model of `POST /sync` (Open WebUI's `ModelModel`): `user_id` becomes the admin's and
    `updated_at` the time of the sync; `created_at` is kept when given."""

    created_at: int | None = Field(default=None, ge=0)


class SyncModelsForm(BaseModel):
    models: list[ModelSyncItem] = Field(default_factory=list, max_length=MAX_BULK)


class ModelVersionForm(BaseModel):
    version_id: str = Field(min_length=1, max_length=36)
