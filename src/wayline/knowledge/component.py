"""Knowledge collections and retrieval: routers, and the lifespan that builds the retrieval
service and the chat augmenter (`app.state.chat_augmenter`) on the files domain's embedder
and vector index."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.state import Core
from wayline.knowledge.router import router as knowledge_router
from wayline.knowledge.service import FileDeleter
from wayline.retrieval.augmenter import RagAugmenter
from wayline.retrieval.router import router as retrieval_router
from wayline.retrieval.search import HybridSearch
from wayline.retrieval.service import RetrievalService

log = logging.getLogger("wayline.knowledge")

routers = [knowledge_router, retrieval_router]


def _file_deleter(app: FastAPI) -> FileDeleter:
    async def delete_files(session: AsyncSession, file_ids: Sequence[str]) -> None:
        # The files domain removes rows, chunks (vectors + FTS) and stored bytes together, in the
        # caller's transaction (a second session would wait for the lock that transaction holds).
        await app.state.files.delete_files(session, list(file_ids))

    return delete_files


@asynccontextmanager
async def lifespan(app: FastAPI, core: Core) -> AsyncIterator[None]:
    app.state.knowledge_file_deleter = _file_deleter(app)
    embedder = getattr(app.state, "embedder", None)
    index = getattr(app.state, "vector_index", None)
    if embedder is None or index is None:
        log.warning("no embedder/vector index on app.state: retrieval and RAG are unavailable")
        app.state.retrieval = None
    else:
        app.state.retrieval = RetrievalService(core, embedder, HybridSearch(index, embedder))
        app.state.chat_augmenter = RagAugmenter(
            core.db, core.settings, app.state.retrieval, getattr(app.state, "ingestion", None)
        )
    yield
