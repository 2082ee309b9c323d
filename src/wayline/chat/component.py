"""Chat completions and embeddings: the pipeline over the providers' registry (with the RAG
augmenter when retrieval runs), its FastAPI routes, and the fast routes in front of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wayline.chat import fastpath
from wayline.chat.augment import CHAT_AUGMENTER
from wayline.chat.router import router
from wayline.chat.service import ChatService
from wayline.core.settings import Settings
from wayline.core.state import AppState
from wayline.providers.registry import ModelRegistry

routers = [router]


def install(app: FastAPI, settings: Settings) -> None:
    fastpath.install(app)


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    state.provide(ChatService, ChatService(state.get(ModelRegistry), state.find(CHAT_AUGMENTER)))
    yield
