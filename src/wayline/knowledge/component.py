"""Knowledge collections and retrieval: routers, and the lifespan that builds the retrieval
service and the chat augmenter (`app.state.chat_augmenter`) on the files domain's embedder
and vector index."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import update
from wayline.core import errors
from wayline.core.state import Core
from wayline.files.service import FileService
from wayline.files.tables import PENDING, File
from wayline.knowledge.router import router as knowledge_router
from wayline.retrieval.augmenter import RagAugmenter
from wayline.retrieval.router import router as retrieval_router
from wayline.retrieval.search import HybridSearch
from wayline.retrieval.service import RetrievalService
from wayline.users.schemas import UserInfo

log = logging.getLogger("wayline.knowledge")

routers = [knowledge_router, retrieval_router]


def _file_deleter(app: FastAPI, core: Core):  # type: ignore[no-untyped-def]
    async def delete_files(user: UserInfo, file_ids: Sequence[str]) -> None:
        # The files domain removes row, chunks (vectors + FTS) and stored bytes together.
        async with core.db.sessionmaker() as session:
            service = FileService(session, app.state.files)
            for file_id in file_ids:
                with contextlib.suppress(errors.NotFound):  # already gone: nothing to do
                    await service.delete(user, file_id)

    return delete_files


def _unprocessed_submitter(app: FastAPI, core: Core):  # type: ignore[no-untyped-def]
    async def submit(file_id: str) -> None:
        async with core.db.sessionmaker.begin() as session:
            await session.execute(update(File).where(File.id == file_id, File.status == "").values(status=PENDING))
        await app.state.ingestion.submit(file_id)

    return submit


@asynccontextmanager
async def lifespan(app: FastAPI, core: Core) -> AsyncIterator[None]:
    app.state.knowledge_file_deleter = _file_deleter(app, core)
    app.state.knowledge_submit_unprocessed = _unprocessed_submitter(app, core)
    embedder = getattr(app.state, "embedder", None)
    index = getattr(app.state, "vector_index", None)
    if embedder is None or index is None:
        log.warning("no embedder/vector index on app.state: retrieval and RAG are unavailable")
        app.state.retrieval = None
    else:
        app.state.retrieval = RetrievalService(core, embedder, HybridSearch(index, embedder))
        app.state.chat_augmenter = RagAugmenter(
            core.db, core.settings, app.state.retrieval, getattr(app.state, "ingestion", None))
    yield
