"""`GET /metrics`: Prometheus' text format, for admins only (Prometheus sends an admin's API key
as a bearer token: `authorization: {credentials: …}` in its scrape config).

Under `wayline serve --workers N` any worker answers with the sum over every worker
(`core.metrics.exposition`). The ingestion queue's depth is counted in the database here, at
scrape time, rather than by the ingestion workers on every job.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wayline.auth.deps import AdminUser
from wayline.core.deps import StateDep
from wayline.core.metrics import exposition
from wayline.files.service import FilesRuntime

router = APIRouter(tags=["system"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, _: AdminUser, state: StateDep) -> Response:
    files = state.find(FilesRuntime)
    if files is not None:
        await files.ingestion.queue_depth()
    # Off the event loop: with several workers, reading their files takes a few milliseconds.
    body, content_type = await asyncio.to_thread(exposition, request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
