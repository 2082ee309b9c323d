"""Knowledge collections: routers, and the lifespan that plugs the upload auto-link into the
files domain (`files.hooks`). The services are built per request over the files runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.core.state import AppState
from wayline.files.service import FilesRuntime
from wayline.knowledge.router import router
from wayline.knowledge.uploads import KnowledgeUploads

routers = [router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    state.get(FilesRuntime).attach(KnowledgeUploads())
    yield
