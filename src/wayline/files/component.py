"""Files: routers, and the lifespan that builds the embedder, vector index, blob store and
ingestion runner (one `FilesRuntime`). Starting the runner also resumes pending and stale
`processing` jobs left by a previous run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.core.state import AppState
from wayline.core.tasks import stop_tasks
from wayline.embeddings import create_embedder
from wayline.files.blobs import create_blob_store
from wayline.files.ingestion import IngestionRunner
from wayline.files.router import router
from wayline.files.service import FilesRuntime
from wayline.vectors import create_vector_index

routers = [router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    core = state.core
    settings = core.settings
    embedder = create_embedder(settings, core.http)
    index = create_vector_index(
        settings.VECTOR_DB, core.db.dialect, settings.VECTOR_MEMORY_MAX_CHUNKS
    )
    blobs = create_blob_store(settings)
    runner = IngestionRunner(
        core.db, settings, embedder, index, blobs, workers=settings.INGEST_WORKERS, bus=core.bus
    )
    state.provide(
        FilesRuntime,
        FilesRuntime(
            settings=settings, embedder=embedder, blobs=blobs, index=index, ingestion=runner
        ),
    )
    await runner.start()
    warming = asyncio.create_task(index.warm(core.db.sessionmaker), name="vector-index-warm")
    try:
        yield
    finally:
        await stop_tasks([warming])
        await runner.stop()
