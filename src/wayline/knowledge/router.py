"""`/api/v1/knowledge`: collections of files, Open WebUI's routes and shapes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import StreamingResponse

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import SessionDep, StateDep
from wayline.files.service import FilesRuntime
from wayline.knowledge.browse import BrowseService, chunks_of, content_disposition
from wayline.knowledge.directories import DirectoryService
from wayline.knowledge.listing_repository import FileFilter
from wayline.knowledge.schemas import (
    AccessUpdateForm,
    Directory,
    DirectoryForm,
    DirectoryUpdateForm,
    FileIdForm,
    FileMeta,
    FileMoveForm,
    FoundFileList,
    KnowledgeBatchResponse,
    KnowledgeFileList,
    KnowledgeForm,
    KnowledgeList,
    KnowledgeResponse,
    Status,
    SyncCleanupForm,
    SyncDiffForm,
    SyncDiffResponse,
)
from wayline.knowledge.service import KnowledgeService
from wayline.knowledge.sync import SyncService
from wayline.knowledge.uploads import pending, pending_events

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])

PageQuery = Annotated[int, Query(ge=1, le=1_000_000)]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _service(state: StateDep, session: SessionDep) -> KnowledgeService:
    return KnowledgeService(session, state.core.settings, state.get(FilesRuntime))


Service = Annotated[KnowledgeService, Depends(_service)]


def _browse(service: Service) -> BrowseService:
    return BrowseService(service)


def _directories(service: Service) -> DirectoryService:
    return DirectoryService(service)


def _sync(service: Service) -> SyncService:
    return SyncService(service)


Browse = Annotated[BrowseService, Depends(_browse)]
Directories = Annotated[DirectoryService, Depends(_directories)]
Sync = Annotated[SyncService, Depends(_sync)]


# Any verified user may create a collection (Open WebUI gates this behind a workspace permission
# that defaults to off for users; we have no per-user permission table, and a collection only
# ever exposes files its creator could already read).
@router.post("/create", response_model=KnowledgeResponse)
async def create(form: KnowledgeForm, user: VerifiedUser, service: Service) -> KnowledgeResponse:
    return await service.create(user, form)


@router.get("/", response_model=KnowledgeList)
async def list_knowledge(
    user: VerifiedUser, service: Service, page: int = Query(1, ge=1, le=1_000_000)
) -> KnowledgeList:
    return await service.list(user, page)


# --- static paths: before the `/{knowledge_id}` routes that would catch them ---------------------
@router.get("/search", response_model=KnowledgeList)
async def search(
    user: VerifiedUser,
    browse: Browse,
    query: str | None = None,
    view_option: str | None = None,
    order_by: str | None = None,
    direction: str | None = None,
    page: PageQuery = 1,
) -> KnowledgeList:
    return await browse.search(user, query, view_option, order_by, direction, page)


@router.get("/search/files", response_model=FoundFileList)
async def search_files(
    user: VerifiedUser,
    browse: Browse,
    query: str | None = None,
    include_content: bool = False,
    page: PageQuery = 1,
) -> FoundFileList:
    return await browse.search_files(user, query, include_content, page)


@router.post("/reindex", response_model=bool)
async def reindex(_: AdminUser, browse: Browse) -> bool:
    return await browse.reindex()


@router.post("/metadata/reindex")
async def reindex_metadata(_: AdminUser, browse: Browse) -> dict[str, int]:
    # Collections are searched by their text (`/search`): there is no embedding of names and
    # descriptions to rebuild, so every collection is as current as it can be.
    total = await browse.collection_count()
    return {"total": total, "success": total}


@router.get("/{knowledge_id}", response_model=KnowledgeResponse)
async def get_knowledge(
    knowledge_id: str, user: VerifiedUser, service: Service
) -> KnowledgeResponse:
    return await service.get(user, knowledge_id)


@router.get("/{knowledge_id}/files", response_model=KnowledgeFileList)
async def list_files(
    knowledge_id: str,
    user: VerifiedUser,
    browse: Browse,
    query: str | None = None,
    include_content: bool = False,
    view_option: str | None = None,
    order_by: str | None = None,
    direction: str | None = None,
    directory_id: str | None = Query(
        None, description="One folder's files; an empty value is the root. Left out: all files."
    ),
    page: PageQuery = 1,
    limit: int = Query(30, ge=1, le=1000),
) -> KnowledgeFileList:
    where = FileFilter(
        in_folder=directory_id is not None,
        folder=directory_id or None,
        query=query,
        include_content=include_content,
        view_option=view_option,
        order_by=order_by,
        direction=direction,
    )
    return await browse.files(user, knowledge_id, where, page, limit)


@router.get("/{knowledge_id}/files/pending", response_model=list[FileMeta])
async def pending_files(
    knowledge_id: str,
    user: VerifiedUser,
    state: StateDep,
    session: SessionDep,
    stream: bool = False,
) -> Any:
    files = await pending(session, user, knowledge_id)  # the access check, streamed or not
    if not stream:
        return files
    await session.close()  # the stream takes a session per poll
    events = pending_events(state.core.db.sessionmaker, user, knowledge_id)
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/{knowledge_id}/export")
async def export(knowledge_id: str, user: AdminUser, browse: Browse) -> StreamingResponse:
    name, archive = await browse.export(user, knowledge_id)
    return StreamingResponse(
        chunks_of(archive),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(name)},
    )


@router.post("/{knowledge_id}/update", response_model=KnowledgeResponse)
async def update(
    knowledge_id: str, form: KnowledgeForm, user: VerifiedUser, service: Service
) -> KnowledgeResponse:
    return await service.update(user, knowledge_id, form)


@router.post("/{knowledge_id}/access/update", response_model=KnowledgeResponse)
async def update_access(
    knowledge_id: str, form: AccessUpdateForm, user: VerifiedUser, service: Service
) -> KnowledgeResponse:
    return await service.update_access(user, knowledge_id, form.access_grants)


@router.post("/{knowledge_id}/file/add", response_model=KnowledgeResponse)
async def add_file(
    knowledge_id: str, form: FileIdForm, user: VerifiedUser, service: Service
) -> KnowledgeResponse:
    return await service.add_file(user, knowledge_id, form.file_id, form.directory_id)


@router.post("/{knowledge_id}/file/update", response_model=KnowledgeResponse)
async def update_file(
    knowledge_id: str, form: FileIdForm, user: VerifiedUser, service: Service
) -> KnowledgeResponse:
    return await service.update_file(user, knowledge_id, form.file_id)


@router.post("/{knowledge_id}/file/remove", response_model=KnowledgeResponse)
async def remove_file(
    knowledge_id: str,
    form: FileIdForm,
    user: VerifiedUser,
    service: Service,
    delete_file: bool | None = Query(None),
) -> KnowledgeResponse:
    return await service.remove_file(user, knowledge_id, form.file_id, delete_file)


@router.post("/{knowledge_id}/files/batch/add", response_model=KnowledgeBatchResponse)
async def add_files(
    knowledge_id: str,
    user: VerifiedUser,
    service: Service,
    forms: Annotated[list[FileIdForm], Body(max_length=10_000)],
) -> KnowledgeBatchResponse:
    folders = {f.file_id: f.directory_id for f in forms}
    return await service.add_files(user, knowledge_id, [f.file_id for f in forms], folders)


@router.post("/{knowledge_id}/reset", response_model=KnowledgeResponse)
async def reset(
    knowledge_id: str, user: VerifiedUser, service: Service, include_directories: bool = True
) -> KnowledgeResponse:
    return await service.reset(user, knowledge_id, include_directories)


# --- folders ----------------------------------------------------------------------------------
@router.post("/{knowledge_id}/dirs/create", response_model=Directory)
async def create_directory(
    knowledge_id: str, form: DirectoryForm, user: VerifiedUser, dirs: Directories
) -> Directory:
    return await dirs.create(user, knowledge_id, form)


@router.post("/{knowledge_id}/dirs/{directory_id}/update", response_model=Directory)
async def update_directory(
    knowledge_id: str,
    directory_id: str,
    form: DirectoryUpdateForm,
    user: VerifiedUser,
    dirs: Directories,
) -> Directory:
    return await dirs.update(user, knowledge_id, directory_id, form)


@router.delete("/{knowledge_id}/dirs/{directory_id}/delete", response_model=Status)
async def delete_directory(
    knowledge_id: str,
    directory_id: str,
    user: VerifiedUser,
    dirs: Directories,
    move_files: bool = Query(True, description="Move the files to the parent, else remove them"),
) -> Status:
    return await dirs.delete(user, knowledge_id, directory_id, move_files)


@router.post("/{knowledge_id}/file/move", response_model=Status)
async def move_file(
    knowledge_id: str, form: FileMoveForm, user: VerifiedUser, dirs: Directories
) -> Status:
    return await dirs.move_file(user, knowledge_id, form)


# --- incremental sync -------------------------------------------------------------------------
@router.post("/{knowledge_id}/sync/diff", response_model=SyncDiffResponse)
async def sync_diff(
    knowledge_id: str, form: SyncDiffForm, user: VerifiedUser, sync: Sync
) -> SyncDiffResponse:
    return await sync.diff(user, knowledge_id, form)


@router.post("/{knowledge_id}/sync/cleanup", response_model=Status)
async def sync_cleanup(
    knowledge_id: str, form: SyncCleanupForm, user: VerifiedUser, sync: Sync
) -> Status:
    return await sync.cleanup(user, knowledge_id, form)


@router.delete("/{knowledge_id}/delete")
async def delete(knowledge_id: str, user: VerifiedUser, service: Service) -> bool:
    return await service.delete(user, knowledge_id)
