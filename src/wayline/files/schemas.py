"""Wire models of `/api/v1/files` (Open WebUI's `FileModelResponse` family; unknown fields
accepted)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wayline.files.blobs import MAX_NAME_CHARS


class FileMeta(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    content_type: str | None = None
    size: int | None = None
    file_hash: str | None = None
    data: dict[str, Any] = {}


class FileModelResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    user_id: str
    hash: str | None = None
    filename: str
    path: str | None = None
    data: dict[str, Any] = {}
    meta: FileMeta
    created_at: int
    updated_at: int


class FileUploadResponse(FileModelResponse):
    status: bool = True


class FileList(BaseModel):
    items: list[FileModelResponse]
    total: int


class Progress(BaseModel):
    done: int
    total: int


class FileStatus(BaseModel):
    status: str
    error: str | None = None
    progress: Progress | None = None


class ContentForm(BaseModel):
    model_config = ConfigDict(extra="allow")

    content: str


class RenameForm(BaseModel):
    model_config = ConfigDict(extra="allow")

    filename: str = Field(min_length=1, max_length=MAX_NAME_CHARS)


class ContentResponse(BaseModel):
    content: str


class Message(BaseModel):
    message: str
