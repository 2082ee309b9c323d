"""Wire models for `/api/v1/functions` (Open WebUI's `FunctionForm` / `FunctionResponse`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from wayline.core.storable import ID_MAX, NameText, StorableObject, utf8

ID_RULE = "Only alphanumeric characters and underscores are allowed in the id"


class FunctionForm(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=ID_MAX)
    name: NameText
    content: Annotated[str, Field(min_length=1, max_length=1_000_000), AfterValidator(utf8)]
    meta: StorableObject = Field(default_factory=dict)
    # Kept with the version this write saves (`/id/{id}/history`).
    commit_message: Annotated[str, Field(max_length=1000), AfterValidator(utf8)] | None = None

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier() or not value.isascii():
            raise ValueError(ID_RULE)
        return value.lower()


class FunctionResponse(BaseModel):
    version_id: str | None = None
    id: str
    user_id: str
    type: str
    name: str
    meta: dict[str, Any]
    is_active: bool
    is_global: bool
    updated_at: int
    created_at: int


class FunctionModel(FunctionResponse):
    content: str


class FunctionWithValves(FunctionModel):
    valves: dict[str, Any] | None = None


# Far above a real deployment's count; it bounds one sync's work (each source is loaded).
MAX_SYNC = 500


class FunctionSyncItem(FunctionForm):
    """One function of `POST /api/v1/functions/sync` (Open WebUI's `FunctionWithValvesModel`):
    `type` is derived from the source again and `user_id` becomes the admin's."""

    valves: StorableObject | None = None
    is_active: bool = False
    is_global: bool = False
    created_at: int | None = Field(default=None, ge=0)


class SyncFunctionsForm(BaseModel):
    functions: list[FunctionSyncItem] = Field(default_factory=list, max_length=MAX_SYNC)


class FunctionVersionForm(BaseModel):
    version_id: str = Field(min_length=1, max_length=36)
