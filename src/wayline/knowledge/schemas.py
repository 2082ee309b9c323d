"""Wire models for `/api/v1/knowledge` (Open WebUI's field names; unknown fields accepted)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wayline.core.grants import AccessGrantForm
from wayline.core.storable import DescriptionText, IdText, NameText, OpenModel


class KnowledgeForm(OpenModel):
    # Open WebUI's `data` and `meta` are accepted and not stored (nothing here reads them back).
    name: NameText
    description: DescriptionText = ""
    access_grants: list[AccessGrantForm] | None = None


class AccessUpdateForm(OpenModel):
    access_grants: list[AccessGrantForm] = Field(default_factory=list)


class FileIdForm(OpenModel):
    file_id: IdText
    directory_id: str | None = None


class AccessGrant(BaseModel):
    principal_type: str
    principal_id: str
    permission: str


class Owner(BaseModel):
    id: str
    name: str
    email: str
    role: str
    profile_image_url: str


class FileMeta(BaseModel):
    """The `files` entries of a collection response (Open WebUI's `{id, hash, meta, ...}`)."""

    model_config = ConfigDict(extra="allow")
    id: str
    user_id: str
    hash: str | None
    filename: str
    meta: dict[str, Any]
    data: dict[str, Any]
    status: str
    created_at: int
    updated_at: int


class KnowledgeResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    user_id: str
    name: str
    description: str
    meta: dict[str, Any] | None
    access_grants: list[AccessGrant]
    write_access: bool
    created_at: int
    updated_at: int
    files: list[FileMeta] | None = None


class KnowledgeListItem(KnowledgeResponse):
    user: Owner | None = None
    file_count: int = 0


class KnowledgeList(BaseModel):
    items: list[KnowledgeListItem]
    total: int


class KnowledgeFileItem(FileMeta):
    user: Owner | None = None


class KnowledgeFileList(BaseModel):
    items: list[KnowledgeFileItem]
    total: int


class BatchWarnings(BaseModel):
    message: str
    errors: list[str]


class KnowledgeBatchResponse(KnowledgeResponse):
    warnings: BatchWarnings | None = None
