"""Knowledge collections and retrieval: routers, and the lifespan that builds the retrieval
service and the chat augmenter (`app.state.chat_augmenter`) on the files domain's embedder
and vector index."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import delete

from wayline.core.state import Core
from wayline.knowledge.access import file_table
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
        files = getattr(app.state, "files", None)
        if files is not None and hasattr(files, "delete_files"):
            await files.delete_files(user, list(file_ids))
            return
        # Fallback: the row goes, its chunks/vectors/FTS rows cascade with it.
        async with core.db.sessionmaker.begin() as session:
            await session.execute(delete(file_table).where(file_table.c.id.in_(list(file_ids))))

    return delete_files


@asynccontextmanager
async def lifespan(app: FastAPI, core: Core) -> AsyncIterator[None]:
    app.state.knowledge_file_deleter = _file_deleter(app, core)
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
