"""The chat playground (`/`) and the knowledge pages (`/knowledge`, `/knowledge/{id}`,
`/files/{id}`): shells rendered here with what the reader may see, read through the same
services the JSON API uses; every change is made by the browser through that API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.deps import SessionDep, StateDep
from wayline.files.service import FileService, FilesRuntime
from wayline.knowledge.browse import BrowseService
from wayline.knowledge.listing_repository import FileFilter
from wayline.knowledge.service import KnowledgeService
from wayline.knowledge.uploads import pending
from wayline.web.pages import render
from wayline.web.session import VerifiedPageUser

router = APIRouter(include_in_schema=False)

FILES_SHOWN = 500  # a collection page lists this many files; more are searched in chat


def _knowledge(state: StateDep, session: SessionDep) -> KnowledgeService:
    return KnowledgeService(session, state.core.settings, state.get(FilesRuntime))


Knowledge = Annotated[KnowledgeService, Depends(_knowledge)]


def _missing(request: Request, user: VerifiedPageUser, what: str) -> Response:
    return render(request, "knowledge_missing.html", user, status_code=404, what=what)


@router.get("/")
async def chat_page(request: Request, user: VerifiedPageUser) -> Response:
    return render(request, "chat.html", user, nav="chat")


@router.get("/knowledge")
async def knowledge_page(
    request: Request,
    user: VerifiedPageUser,
    knowledge: Knowledge,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    listing = await knowledge.list(user, page)
    return render(request, "knowledge.html", user, nav="knowledge", listing=listing, page=page)


async def _collection(
    user: VerifiedPageUser, knowledge: KnowledgeService, session: AsyncSession, knowledge_id: str
) -> dict[str, Any]:
    """A collection with its files, then the uploads into it still on their way (NotFound if
    `user` may not read it)."""
    collection = await knowledge.get(user, knowledge_id)
    listing = await BrowseService(knowledge).files(user, knowledge_id, FileFilter(), 1, FILES_SHOWN)
    waiting = await pending(session, user, knowledge_id)
    return {"collection": collection, "listing": listing, "waiting": waiting}


@router.get("/knowledge/{knowledge_id}")
async def collection_page(
    request: Request,
    user: VerifiedPageUser,
    knowledge: Knowledge,
    session: SessionDep,
    knowledge_id: str,
) -> Response:
    try:
        context = await _collection(user, knowledge, session, knowledge_id)
    except errors.NotFound:
        return _missing(request, user, "collection")
    return render(request, "knowledge_detail.html", user, nav="knowledge", **context)


@router.get("/knowledge/{knowledge_id}/files")
async def collection_files(
    request: Request,
    user: VerifiedPageUser,
    knowledge: Knowledge,
    session: SessionDep,
    knowledge_id: str,
) -> Response:
    """The file table of a collection page, for its htmx refresh."""
    try:
        context = await _collection(user, knowledge, session, knowledge_id)
    except errors.NotFound:
        return _missing(request, user, "collection")
    return render(request, "knowledge_files.html", user, **context)


@router.get("/files/{file_id}")
async def file_page(
    request: Request, user: VerifiedPageUser, state: StateDep, session: SessionDep, file_id: str
) -> Response:
    service = FileService(session, state.get(FilesRuntime))
    try:
        file = await service.get(user, file_id)
        status = await service.status(user, file_id)
    except errors.NotFound:
        return _missing(request, user, "file")
    return render(request, "knowledge_file.html", user, nav="knowledge", file=file, status=status)
