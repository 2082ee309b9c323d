"""Chat completions and embeddings: the pipeline over the providers' registry (with the RAG
augmenter when retrieval runs) and its FastAPI routes; `app.py` mounts the fast routes
(`fastpath.py`) in front of every route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.chat.augment import CHAT_AUGMENTER
from wayline.chat.router import router
from wayline.chat.service import ChatService
from wayline.core.state import AppState
from wayline.providers.registry import ModelRegistry
from wayline.providers.routing import Router

routers = [router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    state.provide(
        ChatService,
        ChatService(state.get(ModelRegistry), state.find(CHAT_AUGMENTER), state.get(Router)),
    )
    yield
