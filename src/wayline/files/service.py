"""Files: upload, list, read, re-index, delete. Also the helpers the knowledge/RAG domain uses.

Access rule: only the owner or an admin sees or touches a file; anyone else gets 404
(not 403), so a file id reveals nothing.

Every unit of work that writes starts with `begin_write` (before its first read), so its
access check and its write see one state and, on SQLite, it queues for the write lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.clock import new_id, now
from wayline.core.db import begin_write
from wayline.core.limits import check_depth, depth_detail
from wayline.core.settings import Settings
from wayline.embeddings import Embedder
from wayline.extraction import extension_of
from wayline.files.blobs import BlobStore, StorageUnavailable, blob_key, safe_name
from wayline.files.hooks import UploadHook
from wayline.files.ingestion import IngestionRunner
from wayline.files.repository import FileRepository
from wayline.files.status import COMPLETED, FAILED, PENDING, STORED, UNPROCESSED
from wayline.files.tables import File
from wayline.users.schemas import UserInfo
from wayline.vectors import VectorIndex

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_METADATA_BYTES = 64 * 1024
WireFiles = list[dict[str, Any]]  # (`FileService.list` hides the builtin inside the class)


@dataclass
class FilesRuntime:
    """What the files component builds in its lifespan."""

    settings: Settings
    embedder: Embedder
    blobs: BlobStore
    index: VectorIndex
    ingestion: IngestionRunner
    hook: UploadHook | None = None

    def attach(self, hook: UploadHook) -> None:
        """Plug in a higher domain's part in uploads (knowledge: the auto-link to a collection),
        for the upload route and the ingestion workers alike."""
        if self.hook is not None:
            raise RuntimeError("an upload hook is attached already")
        self.hook = hook
        self.ingestion.hook = hook

    async def submit(self, file_id: str) -> None:
        """Hand a `pending` file to the ingestion workers (the row is the job)."""
        await self.ingestion.submit(file_id)

    async def resubmit(self, session: AsyncSession, file_id: str) -> bool:
        """Submit again a file never processed (uploaded with process=false) or whose processing
        failed, in a write transaction of its own; commits. False when the file is in neither
        state any more (a worker picked it up meanwhile): it is left alone."""
        await begin_write(session)
        changed = await FileRepository(session).mark_pending(file_id)
        await session.commit()
        await self.submit(file_id)
        return changed

    async def wait_processed(
        self, session: AsyncSession, user: UserInfo, file_id: str, wait_seconds: float
    ) -> File:
        """The file once processing completed, waiting up to `wait_seconds` for it: BadRequest
        with the reason when it failed, Conflict while it is still being processed."""
        status = await self.ingestion.wait_until_done(file_id, wait_seconds)
        session.expire_all()
        row = await get_readable_file(session, user, file_id)
        if status == FAILED or row.status == FAILED:
            raise errors.BadRequest(row.error or "Processing failed")
        if row.status != COMPLETED:
            raise errors.Conflict(
                f"File {file_id} is still being processed; "
                f"check /api/v1/files/{file_id}/process/status"
            )
        return row

    async def reprocess_outdated(self, session: AsyncSession, file_ids: Sequence[str]) -> int:
        """Queue again the files among `file_ids` whose vectors are out of date: processing
        failed, or they were indexed with another embedder or chunking than the current one.
        A file indexed the current way is left alone (its vectors would come out the same), and
        so is one whose text was edited (re-reading its bytes would undo the edit). Commits;
        how many were queued."""
        await begin_write(session)
        queued = await FileRepository(session).mark_outdated_pending(
            file_ids, self.ingestion.signature()
        )
        await session.commit()
        if queued:
            await self.submit(file_ids[0])
        return queued

    async def delete_files(self, session: AsyncSession, file_ids: Sequence[str]) -> None:
        """Remove files entirely: chunks (vectors + FTS), rows (links cascade) and stored bytes.
        Commits. The one way a file is deleted (a user's delete, a collection's unlink).

        Runs in the caller's transaction, which should have started with `begin_write`."""
        await self.delete_rows(session, await FileRepository(session).get_many(file_ids))

    async def delete_rows(self, session: AsyncSession, rows: Sequence[File]) -> None:
        """`delete_files` for rows already read in the caller's write transaction."""
        repo = FileRepository(session)
        for row in rows:
            await self.index.delete_file(session, row.id)
            await repo.delete(row.id)
        await session.commit()
        for row in rows:
            try:
                await self.blobs.delete(row.path)
            except StorageUnavailable as exc:  # the file is gone already; its bytes wait
                log.warning("file %s deleted, but not its stored bytes: %s", row.id, exc.detail)


def to_wire(row: File, *, content: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if row.status:
        data["status"] = row.status
    if row.status == FAILED:
        data["error"] = row.error or "Processing failed"  # Open WebUI: why processing failed
    if content and row.status == COMPLETED and row.content is not None:
        data["content"] = row.content
    return {
        "id": row.id,
        "user_id": row.user_id,
        "hash": row.hash,
        "filename": row.filename,
        "path": row.path,
        "data": data,
        "meta": dict(row.meta or {}),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def parse_metadata(raw: Any, max_depth: int) -> dict[str, Any]:
    """The upload's `metadata` form field: a JSON object of at most 64 KiB and `max_depth` levels.

    Checked before anything is stored: a row whose metadata cannot be serialised back (orjson
    stops at 254 levels) would break every file listing that includes it."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, str):
        raise errors.BadRequest("Invalid metadata: send it as a JSON string form field, not a file")
    if len(raw.encode("utf-8", "replace")) > MAX_METADATA_BYTES:
        raise errors.Unprocessable(
            f"Invalid metadata: larger than {MAX_METADATA_BYTES // 1024} KiB"
        )
    try:
        value = json.loads(raw)
    except RecursionError:  # deeper than the parser goes, far beyond the limit
        raise errors.Unprocessable(depth_detail(["metadata"], max_depth)) from None
    except (TypeError, ValueError) as exc:
        raise errors.BadRequest(f"Invalid metadata: not valid JSON ({exc})") from exc
    check_depth(value, max_depth, "metadata")
    if not isinstance(value, dict):
        raise errors.BadRequest("Invalid metadata: expected a JSON object")
    file_hash = value.get("file_hash")
    if file_hash is not None and not (isinstance(file_hash, str) and len(file_hash) <= 128):
        raise errors.Unprocessable(
            "Invalid metadata: 'file_hash' must be a string of at most 128 characters"
        )
    return value


def checked_display_name(filename: str) -> str:
    """A new display name as sent, or 400 naming what is wrong with it: it must be a file name
    (no path separators or control characters) with something besides spaces."""
    name = filename.strip()
    if not name:
        raise errors.BadRequest("Invalid filename: it must not be empty")
    if safe_name(name) != name.lstrip("."):
        raise errors.BadRequest(
            "Invalid filename: a file name has no '/', '\\', control characters or invalid Unicode"
        )
    return name


def needs_processing(row: File) -> bool:
    """Never processed (uploaded with process=false) or processing failed: `resubmit` applies."""
    return row.status in UNPROCESSED


async def get_readable_file(session: AsyncSession, user: UserInfo, file_id: str) -> File:
    """The file if `user` may read it (owner or admin), else NotFound."""
    row = await FileRepository(session).get_for(user, file_id)
    if row is None:
        raise errors.NotFound()
    return row


async def create_file(
    session: AsyncSession,
    runtime: FilesRuntime,
    user: UserInfo,
    filename: str,
    source: BinaryIO,
    *,
    content_type: str | None,
    metadata: dict[str, Any] | None = None,
    process: bool = True,
    on_stored: Callable[[AsyncSession, str], Awaitable[None]] | None = None,
) -> File:
    """Store bytes and insert the file row (status `pending` when `process`); the caller submits
    the job (`FilesRuntime.submit`). `on_stored` runs in the insert's transaction, after it: if
    it raises, nothing is kept."""
    name = safe_name(filename)
    file_id = new_id()
    path, size, digest = await runtime.blobs.put(
        blob_key(file_id, name), source, runtime.settings.file_max_bytes
    )
    metadata = metadata or {}
    stamp = now()
    row = File(
        id=file_id,
        user_id=user.id,
        hash=None,
        file_hash=digest,
        filename=name,
        path=path,
        meta={
            "name": name,
            "content_type": content_type,
            "size": size,
            "file_hash": metadata.get("file_hash") or digest,
            "data": metadata,
        },
        data={},
        content=None,
        status=PENDING if process else STORED,
        error=None,
        error_status=None,
        progress_done=0,
        progress_total=0,
        claimed_by=None,
        claimed_at=None,
        created_at=stamp,
        updated_at=stamp,
    )
    try:
        await begin_write(session)
        FileRepository(session).add(row)
        if on_stored is not None:
            await session.flush()
            await on_stored(session, row.id)
        await session.commit()
    except BaseException:
        await session.rollback()
        with contextlib.suppress(StorageUnavailable):  # the first failure is the one to report
            await runtime.blobs.delete(path)
        raise
    return row


async def create_text_file(
    session: AsyncSession,
    runtime: FilesRuntime,
    user: UserInfo,
    name: str,
    text: str,
    metadata: dict[str, Any] | None = None,
) -> File:
    """A file row from raw text (for `/api/v1/retrieval/process/text`); submitted for indexing."""
    if not text.strip():
        raise errors.BadRequest(errors.EMPTY_CONTENT)
    filename = name if "." in name else f"{name}.txt"
    row = await create_file(
        session,
        runtime,
        user,
        filename,
        io.BytesIO(text.encode()),
        content_type="text/plain",
        metadata=metadata,
    )
    await runtime.submit(row.id)
    return row


class FileService:
    def __init__(self, session: AsyncSession, runtime: FilesRuntime) -> None:
        self.session = session
        self.runtime = runtime
        self.repo = FileRepository(session)

    async def upload(
        self,
        user: UserInfo,
        filename: str,
        source: BinaryIO,
        content_type: str | None,
        metadata: dict[str, Any],
        process: bool,
        background: bool,
    ) -> dict[str, Any]:
        allowed = self.runtime.settings.allowed_file_extensions
        if process and allowed and extension_of(filename) not in allowed:
            raise errors.BadRequest(f"File type {extension_of(filename)} is not allowed")
        hook = self.runtime.hook
        on_stored: Callable[[AsyncSession, str], Awaitable[None]] | None = None
        if hook is not None:
            await hook.check(self.session, user, metadata)  # refused before any byte is stored
            on_stored = lambda session, file_id: hook.stored(session, user, file_id, metadata)  # noqa: E731

        row = await create_file(
            self.session,
            self.runtime,
            user,
            filename,
            source,
            content_type=content_type,
            metadata=metadata,
            process=process,
            on_stored=on_stored,
        )
        if process and background:
            await self.runtime.submit(row.id)
        elif process:
            await self.runtime.ingestion.run_now(row.id)
            row = await self.repo.get(row.id) or row
            await self.session.commit()  # end the read
            if row.status == FAILED:
                # A synchronous failure answers 4xx and leaves nothing behind.
                await begin_write(self.session)
                await self._delete(row)
                error = (
                    errors.UnsupportedMediaType if row.error_status == 415 else errors.Unprocessable
                )
                if row.error_status == 502:
                    raise errors.UpstreamError(502, row.error)
                raise error(row.error)
        return {**to_wire(row), "status": True}

    async def list(self, user: UserInfo, page: int, content: bool) -> dict[str, Any]:
        rows, total = await self.repo.list_for(user, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        return {"items": [to_wire(r, content=content) for r in rows], "total": total}

    async def get(self, user: UserInfo, file_id: str) -> dict[str, Any]:
        return to_wire(await get_readable_file(self.session, user, file_id))

    async def get_row(self, user: UserInfo, file_id: str) -> File:
        return await get_readable_file(self.session, user, file_id)

    async def data_content(self, user: UserInfo, file_id: str) -> dict[str, str]:
        row = await get_readable_file(self.session, user, file_id)
        return {"content": row.content or ""}

    async def status(self, user: UserInfo, file_id: str) -> dict[str, Any]:
        return status_of(await get_readable_file(self.session, user, file_id))

    async def search(
        self, user: UserInfo, pattern: str, content: bool, skip: int, limit: int, *, own: bool
    ) -> WireFiles:
        """Files whose name matches `pattern`: the caller's, or every user's for an admin unless
        `own`."""
        rows = await self.repo.search(self._owner_scope(user, own), pattern, skip, limit)
        return [to_wire(r, content=content) for r in rows]

    async def count(self, user: UserInfo, *, own: bool) -> int:
        return await self.repo.count(self._owner_scope(user, own))

    @staticmethod
    def _owner_scope(user: UserInfo, own: bool) -> str | None:
        # Open WebUI's rule for lists: an admin sees every user's files (the `/user/...` forms
        # and non-admins see their own).
        return None if user.is_admin and not own else user.id

    async def rename(self, user: UserInfo, file_id: str, filename: str) -> dict[str, Any]:
        """The display name (`filename` and `meta.name`); the stored bytes keep their key. The
        row is locked, so concurrent renames (and an ingestion commit) apply one after another."""
        name = checked_display_name(filename)
        await begin_write(self.session)
        row = await self.repo.lock(file_id)
        if row is None or (row.user_id != user.id and not user.is_admin):
            raise errors.NotFound()
        row.filename = name
        row.meta = {**(row.meta or {}), "name": name}
        row.updated_at = now()
        await self.session.commit()
        return to_wire(row)

    async def html_row(self, user: UserInfo, file_id: str) -> File:
        """The file, for serving as HTML: only an admin's uploads are (another user's HTML
        would run in the reader's session); anything else is 404, as Open WebUI does."""
        row = await get_readable_file(self.session, user, file_id)
        if not await self.repo.owner_is_admin(file_id):
            raise errors.NotFound()
        return row

    async def update_content(self, user: UserInfo, file_id: str, content: str) -> dict[str, str]:
        row = await get_readable_file(self.session, user, file_id)
        if not content.strip():
            raise errors.BadRequest(errors.EMPTY_CONTENT)
        await self.session.commit()  # end the read: re-indexing writes in sessions of its own
        await self.runtime.ingestion.reindex_text(row.id, content)
        return {"content": content}

    async def delete(self, user: UserInfo, file_id: str) -> dict[str, str]:
        await begin_write(self.session)
        await self._delete(await get_readable_file(self.session, user, file_id))
        return {"message": "File deleted successfully"}

    async def _delete(self, row: File) -> None:
        """Within the caller's write transaction: chunks (vectors + FTS rows) and collection links
        go with the row (explicitly and by cascade); commits, then removes the stored bytes."""
        await self.runtime.delete_rows(self.session, [row])

    async def delete_all(self) -> dict[str, str]:
        await begin_write(self.session)
        await self.runtime.index.delete_all(self.session)
        await self.repo.delete_all()
        await self.session.commit()
        await self.runtime.blobs.delete_all()
        return {"message": "All files deleted successfully"}


def status_of(row: File | None) -> dict[str, Any]:
    if row is None:
        return {"status": "not_found"}
    out: dict[str, Any] = {
        "status": row.status or "pending",
        "progress": {"done": row.progress_done, "total": row.progress_total},
    }
    if row.status == FAILED:
        out["error"] = row.error
    return out


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
