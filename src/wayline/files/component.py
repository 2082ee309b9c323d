"""Files: routers, and the lifespan that builds the embedder, vector index, blob store and ingestion runner.

On `app.state`: `embedder`, `vector_index`, `blob_store`, `ingestion` (the contract's names)
and `files` (the same bundle for this package's routers). Starting the runner also
resumes pending and stale `processing` jobs left by a previous run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wayline.core.state import Core
from wayline.embeddings import create_embedder
from wayline.files.blobstore import LocalBlobStore
from wayline.files.ingestion import IngestionRunner
from wayline.files.router import router
from wayline.files.service import FilesRuntime
from wayline.vectors import create_vector_index

routers = [router]


@asynccontextmanager
async def lifespan(app: FastAPI, core: Core) -> AsyncIterator[None]:
    settings = core.settings
    embedder = create_embedder(settings, core.http)
    index = create_vector_index(settings.VECTOR_DB, core.db.dialect)
    blobs = LocalBlobStore(settings.DATA_DIR / "uploads")
    runner = IngestionRunner(
        core.db, settings, embedder, index, blobs, workers=settings.INGEST_WORKERS
    )
    app.state.embedder = embedder
    app.state.vector_index = index
    app.state.blob_store = blobs
    app.state.ingestion = runner
    app.state.files = FilesRuntime(settings=settings, blobs=blobs, index=index, ingestion=runner)
    await runner.start()
    try:
        yield
    finally:
        await runner.stop()
