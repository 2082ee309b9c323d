"""`/api/v1/files`: Open WebUI's file endpoints (spec §5)."""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile
from starlette.types import Message as AsgiMessage
from starlette.types import Receive

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core import errors
from wayline.core.deps import SessionDep
from wayline.core.state import get_core, get_state
from wayline.files.blobs import BlobStore, parse_range, too_large_detail
from wayline.files.repository import FileRepository
from wayline.files.schemas import (
    ContentForm,
    ContentResponse,
    FileList,
    FileModelResponse,
    FileStatus,
    FileUploadResponse,
    Message,
    RenameForm,
)
from wayline.files.service import (
    MAX_METADATA_BYTES,
    FileService,
    FilesRuntime,
    parse_metadata,
    status_of,
)

router = APIRouter(prefix="/api/v1/files", tags=["files"])

MULTIPART_SLACK = (
    MAX_METADATA_BYTES + 64 * 1024
)  # the metadata field and multipart framing on top of the file
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "metadata": {"type": "string", "description": "JSON object"},
                    },
                }
            }
        },
    }
}


def get_runtime(request: Request) -> FilesRuntime:
    return get_state(request).get(FilesRuntime)


def _service(session: SessionDep, request: Request) -> FileService:
    return FileService(session, get_runtime(request))


Service = Annotated[FileService, Depends(_service)]


def _counting(receive: Receive, limit: int) -> Receive:
    """Count body bytes as they arrive and stop the upload the moment it is too large."""
    seen = 0

    async def wrapped() -> AsgiMessage:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise errors.PayloadTooLarge(too_large_detail(limit - MULTIPART_SLACK))
        return message

    return wrapped


@router.post("/", response_model=FileUploadResponse, openapi_extra=_UPLOAD_BODY)
async def upload_file(
    request: Request,
    user: VerifiedUser,
    service: Service,
    process: bool = True,
    process_in_background: bool = True,
) -> dict[str, Any]:
    max_bytes = service.runtime.settings.file_max_bytes
    if max_bytes is not None:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes + MULTIPART_SLACK:
            raise errors.PayloadTooLarge(too_large_detail(max_bytes))
        request = Request(request.scope, _counting(request.receive, max_bytes + MULTIPART_SLACK))
    form = await request.form(max_files=1, max_fields=32)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise errors.Unprocessable(
                "Field 'file' is required: send a multipart/form-data body with a 'file' part"
            )
        metadata = parse_metadata(form.get("metadata"), service.runtime.settings.MAX_JSON_DEPTH)
        content_type = upload.content_type
        if not content_type or content_type == "application/octet-stream":
            content_type = mimetypes.guess_type(upload.filename or "")[0] or content_type
        return await service.upload(
            user,
            upload.filename or "file",
            upload.file,
            content_type,
            metadata,
            process,
            process_in_background,
        )
    finally:
        await form.close()


@router.get("/", response_model=FileList)
async def list_files(
    user: VerifiedUser,
    service: Service,
    page: int = Query(1, ge=1, le=1_000_000),
    content: bool = True,
) -> dict[str, Any]:
    return await service.list(user, page, content)


@router.get("/search", response_model=list[FileModelResponse])
async def search_files(
    user: VerifiedUser,
    service: Service,
    filename: str = Query(
        ..., max_length=1024, description="A filename pattern; wildcards such as '*.txt'"
    ),
    content: bool = True,
    skip: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    found = await service.search(user, filename, content, skip, limit, own=False)
    if not found:
        raise errors.NotFound("No files found matching the pattern.")
    return found


@router.get("/user/search", response_model=list[FileModelResponse])
async def search_own_files(
    user: VerifiedUser,
    service: Service,
    filename: str = Query("*", max_length=1024),
    content: bool = False,
    skip: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    return await service.search(user, filename, content, skip, limit, own=True)


@router.get("/count", response_model=int)
async def count_files(user: VerifiedUser, service: Service) -> int:
    return await service.count(user, own=False)


@router.get("/user/count", response_model=int)
async def count_own_files(user: VerifiedUser, service: Service) -> int:
    return await service.count(user, own=True)


@router.delete("/all", response_model=Message)
async def delete_all_files(_: AdminUser, service: Service) -> dict[str, str]:
    return await service.delete_all()


@router.get("/{file_id}", response_model=FileModelResponse)
async def get_file(file_id: str, user: VerifiedUser, service: Service) -> dict[str, Any]:
    return await service.get(user, file_id)


@router.get("/{file_id}/process/status", response_model=FileStatus)
async def process_status(
    file_id: str, request: Request, user: VerifiedUser, service: Service, stream: bool = False
) -> Any:
    first = await service.status(user, file_id)
    if not stream:
        return first
    await service.session.close()  # hand the connection back: the stream may last long
    db, ingestion = get_core(request).db, service.runtime.ingestion

    async def events() -> AsyncIterator[str]:
        last: dict[str, Any] | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * 3600
        current = first
        while True:
            if current != last:
                yield f"data: {json.dumps(current)}\n\n"
                last = current
            if current["status"] in ("completed", "failed", "not_found") or loop.time() > deadline:
                return
            await ingestion.changed(file_id)
            async with db.sessionmaker() as session:
                current = status_of(await FileRepository(session).get(file_id))

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{file_id}/data/content", response_model=ContentResponse)
async def get_data_content(file_id: str, user: VerifiedUser, service: Service) -> dict[str, str]:
    return await service.data_content(user, file_id)


@router.post("/{file_id}/data/content/update", response_model=ContentResponse)
async def update_data_content(
    file_id: str, form: ContentForm, user: VerifiedUser, service: Service
) -> dict[str, str]:
    return await service.update_content(user, file_id, form.content)


@router.get("/{file_id}/content")
async def get_file_content(
    file_id: str, request: Request, user: VerifiedUser, service: Service, attachment: bool = False
) -> Any:
    row = await service.get_row(user, file_id)
    content_type = (
        (row.meta or {}).get("content_type")
        or mimetypes.guess_type(row.filename)[0]
        or "application/octet-stream"
    )
    inline = not attachment and (
        content_type == "application/pdf" or content_type.startswith("text/plain")
    )
    response = await _stored_bytes(
        request,
        service.runtime.blobs,
        row.path,
        media_type=content_type,
        disposition=_disposition("inline" if inline else "attachment", row.filename),
    )
    if response is not None:
        return response
    if row.content is None:
        raise errors.NotFound(f"The content of file {file_id} is not in storage")
    return PlainTextResponse(row.content)


@router.get("/{file_id}/content/html")
async def get_html_content(
    file_id: str, request: Request, user: VerifiedUser, service: Service
) -> Response:
    row = await service.html_row(user, file_id)
    media_type = mimetypes.guess_type(row.path)[0] or "text/plain"
    response = await _stored_bytes(request, service.runtime.blobs, row.path, media_type=media_type)
    if response is None:
        raise errors.NotFound(f"The content of file {file_id} is not in storage")
    return response


@router.get("/{file_id}/content/{file_name}")
async def download_file(
    file_id: str, file_name: str, request: Request, user: VerifiedUser, service: Service
) -> Response:
    """A download under any name in the URL (the stored name is the one sent); when the bytes
    are gone, the extracted text."""
    row = await service.get_row(user, file_id)
    name = (row.meta or {}).get("name") or row.filename
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    media_type = mimetypes.guess_type(row.path)[0] or "text/plain"
    response = await _stored_bytes(
        request, service.runtime.blobs, row.path, media_type=media_type, disposition=disposition
    )
    if response is None:
        return PlainTextResponse(row.content or "", headers={"Content-Disposition": disposition})
    return response


def _disposition(kind: str, filename: str) -> str:
    """Starlette's `FileResponse` header, for the streamed responses too."""
    quoted = quote(filename)
    if quoted != filename:
        return f"{kind}; filename*=utf-8''{quoted}"
    return f'{kind}; filename="{filename}"'


async def _stored_bytes(
    request: Request,
    blobs: BlobStore,
    path: str,
    *,
    media_type: str,
    disposition: str | None = None,
) -> Response | None:
    """The stored bytes of a file, None when they are gone. A local store's file is sent by
    `FileResponse`; a remote store's blob is streamed through in blocks, with the length known
    up front and one `Range` honoured (206), as `FileResponse` does."""
    if not path:
        return None
    headers = {"Content-Disposition": disposition} if disposition else {}
    local = blobs.local_path(path)
    if local is not None:
        if not local.is_file():
            return None
        return FileResponse(local, media_type=media_type, headers=headers)
    byte_range = parse_range(request.headers.get("range"))
    try:
        blob = await blobs.open(path, byte_range)
    except FileNotFoundError:
        return None
    headers.update({"Content-Length": str(blob.length), "Accept-Ranges": "bytes"})
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {blob.start}-{blob.end}/{blob.size}"
    return StreamingResponse(
        blob.chunks, status_code=status, media_type=media_type, headers=headers
    )


@router.post("/{file_id}/rename", response_model=FileModelResponse)
async def rename_file(
    file_id: str, form: RenameForm, user: VerifiedUser, service: Service
) -> dict[str, Any]:
    return await service.rename(user, file_id, form.filename)


@router.delete("/{file_id}", response_model=Message)
async def delete_file(file_id: str, user: VerifiedUser, service: Service) -> dict[str, str]:
    return await service.delete(user, file_id)
