"""Retrieval and RAG: routers, and the lifespan that builds the retrieval service and the chat
augmenter on the files domain's embedder and vector index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.chat.augment import CHAT_AUGMENTER
from wayline.core.state import AppState
from wayline.files.service import FilesRuntime
from wayline.retrieval.augmenter import RagAugmenter
from wayline.retrieval.router import router
from wayline.retrieval.search import HybridSearch
from wayline.retrieval.service import RetrievalService

routers = [router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    core, files = state.core, state.get(FilesRuntime)
    retrieval = state.provide(
        RetrievalService,
        RetrievalService(
            core, files.embedder, HybridSearch(files.index, files.embedder, core.db.sessionmaker)
        ),
    )
    state.provide(CHAT_AUGMENTER, RagAugmenter(core.db, core.settings, retrieval, files.ingestion))
    yield
