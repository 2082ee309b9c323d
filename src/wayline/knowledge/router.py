"""`/api/v1/knowledge`: collections of files, Open WebUI's routes and shapes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from wayline.auth.deps import VerifiedUser
from wayline.core.deps import SessionDep, StateDep
from wayline.files.service import FilesRuntime
from wayline.knowledge.schemas import (
    AccessUpdateForm,
    FileIdForm,
    KnowledgeBatchResponse,
    KnowledgeFileList,
    KnowledgeForm,
    KnowledgeList,
    KnowledgeResponse,
)
from wayline.knowledge.service import KnowledgeService

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])


def _service(state: StateDep, session: SessionDep) -> KnowledgeService:
    return KnowledgeService(session, state.core.settings, state.get(FilesRuntime))


Service = Annotated[KnowledgeService, Depends(_service)]


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


@router.get("/{knowledge_id}", response_model=KnowledgeResponse)
async def get_knowledge(
    knowledge_id: str, user: VerifiedUser, service: Service
) -> KnowledgeResponse:
    return await service.get(user, knowledge_id)


@router.get("/{knowledge_id}/files", response_model=KnowledgeFileList)
async def list_files(
    knowledge_id: str,
    user: VerifiedUser,
    service: Service,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(30, ge=1, le=1000),
) -> KnowledgeFileList:
    return await service.files(user, knowledge_id, page, limit)


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
    return await service.add_file(user, knowledge_id, form.file_id)


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
    return await service.add_files(user, knowledge_id, [f.file_id for f in forms])


@router.post("/{knowledge_id}/reset", response_model=KnowledgeResponse)
async def reset(knowledge_id: str, user: VerifiedUser, service: Service) -> KnowledgeResponse:
    return await service.reset(user, knowledge_id)


@router.delete("/{knowledge_id}/delete")
async def delete(knowledge_id: str, user: VerifiedUser, service: Service) -> bool:
    return await service.delete(user, knowledge_id)
