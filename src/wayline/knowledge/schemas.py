"""Wire models for `/api/v1/knowledge` (Open WebUI's field names; unknown fields accepted)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from wayline.core.grants import AccessGrantForm
from wayline.core.storable import DescriptionText, IdText, NameText, OpenModel, utf8

MAX_MANIFEST = 100_000  # files in one sync manifest (a large repository, well within the body cap)
MAX_PATH = 4096


def _one_name(value: str) -> str:
    """A folder or file name: one path segment (a "/" in it would change the tree's paths)."""
    if "/" in value or value.strip() in ("", ".", ".."):
        raise ValueError(f"{value!r} is not a name: it must be one path segment, without '/'")
    return value


def _relative_path(value: str) -> str:
    """ "" (the root) or names joined by "/", without empty, "." or ".." segments."""
    if value:
        for segment in value.split("/"):
            _one_name(segment)
    return value


SegmentName = Annotated[NameText, AfterValidator(_one_name)]
RelativePath = Annotated[
    str, Field(max_length=MAX_PATH), AfterValidator(utf8), AfterValidator(_relative_path)
]


class KnowledgeForm(OpenModel):
    # Open WebUI's `data` and `meta` are accepted and not stored (nothing here reads them back).
    name: NameText
    description: DescriptionText = ""
    access_grants: list[AccessGrantForm] | None = None


class AccessUpdateForm(OpenModel):
    access_grants: list[AccessGrantForm] = Field(default_factory=list)


class FileIdForm(OpenModel):
    file_id: IdText
    directory_id: IdText | None = None


class FileMoveForm(OpenModel):
    file_id: IdText
    directory_id: IdText | None = None  # None: the collection's root


class DirectoryForm(OpenModel):
    name: SegmentName
    parent_id: IdText | None = None


class DirectoryUpdateForm(OpenModel):
    """Rename and/or move; `parent_id` sent as null moves the folder to the root, left out
    keeps it where it is (Open WebUI's `'__unset__'` default)."""

    name: SegmentName | None = None
    parent_id: IdText | None = None


class Directory(BaseModel):
    """Open WebUI's `KnowledgeDirectoryModel`."""

    id: str
    knowledge_id: str
    parent_id: str | None
    name: str
    user_id: str
    created_at: int
    updated_at: int


class Status(BaseModel):
    status: bool = True


class ManifestEntry(OpenModel):
    """One file of the client's tree: `path` is its folder ("" for the root), `checksum` what
    it will send as `metadata.file_hash` (oikb: SHA-256 of the bytes)."""

    filename: SegmentName
    path: RelativePath
    checksum: Annotated[str, Field(min_length=1, max_length=128)]
    size: Annotated[int, Field(ge=0)]


class SyncDiffForm(OpenModel):
    manifest: Annotated[list[ManifestEntry], Field(max_length=MAX_MANIFEST)]


class AddedFile(BaseModel):
    filename: str
    path: str


class ModifiedFile(AddedFile):
    stale_file_id: str


class DeletedFile(BaseModel):
    file_id: str
    filename: str


class SyncDiffResponse(BaseModel):
    added: list[AddedFile]
    modified: list[ModifiedFile]
    deleted: list[DeletedFile]
    mkdir: list[str]  # folder paths to create, parents first
    rmdir: list[str]  # folder ids to remove, parents first (clients remove them in reverse)
    unmodified_count: int
    directory_map: dict[str, str]  # existing folder path → id


class SyncCleanupForm(OpenModel):
    file_ids: Annotated[list[IdText], Field(max_length=MAX_MANIFEST)]
    dir_ids: Annotated[list[IdText], Field(max_length=MAX_MANIFEST)] = Field(default_factory=list)


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
    directory_id: str | None = None


class KnowledgeFileList(BaseModel):
    items: list[KnowledgeFileItem]
    directories: list[Directory] = Field(default_factory=list)  # the folders at this level
    breadcrumbs: list[Directory] = Field(default_factory=list)  # root first, down to this one
    total: int


class CollectionRef(BaseModel):
    """The collection a file was found in (`/search/files` items' `collection`)."""

    id: str
    user_id: str
    name: str
    description: str
    meta: dict[str, Any] | None
    access_grants: list[AccessGrant]
    created_at: int
    updated_at: int


class FoundFile(KnowledgeFileItem):
    collection: CollectionRef


class FoundFileList(BaseModel):
    items: list[FoundFile]
    total: int


class BatchWarnings(BaseModel):
    message: str
    errors: list[str]


class KnowledgeBatchResponse(KnowledgeResponse):
    warnings: BatchWarnings | None = None
