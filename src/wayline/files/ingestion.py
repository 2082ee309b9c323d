"""The durable ingestion job: extract → chunk → embed → index, one file at a time per worker.

State lives in the file row, not in memory: `pending` rows are claimed with a
compare-and-set (on PostgreSQL the candidate is picked `FOR UPDATE SKIP LOCKED`), so any
replica may run a job. A running job refreshes `claimed_at` (heartbeat); a `processing`
row whose claim is older than `stale_seconds` belongs to a dead worker and is claimed
again, so a restart resumes it. Chunks, vectors, FTS rows and the `completed` status are
written in ONE transaction that first re-checks the claim: a crash, a failure or a
concurrent delete leaves no partial set, and a resumed job replaces nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from wayline.core.clock import new_id, now
from wayline.core.db import Database
from wayline.core.errors import WaylineError
from wayline.core.settings import Settings
from wayline.embeddings import Embedder
from wayline.extraction import ExtractionError, Unreadable, extract
from wayline.extraction.chunking import Piece, split_pieces
from wayline.files.blobstore import BlobStore
from wayline.files.repository import FileRepository
from wayline.files.tables import COMPLETED, FAILED, File
from wayline.vectors import NewChunk, VectorIndex

T = TypeVar("T")

log = logging.getLogger("wayline.ingestion")
DONE = (COMPLETED, FAILED)
_PROCESS = new_id()[:8]  # tells this process apart from an earlier one that had the same pid
_HOST = socket.gethostname()[:16]


def claim_token() -> str:
    """`{runner}:{process}:{pid}:{host}` (≤ 36 chars): lets a restarted server on the same host see
    at once that a `processing` claim belongs to a process that no longer exists."""
    return f"{new_id()[:4]}:{_PROCESS}:{os.getpid()}:{_HOST}"[:36]


def is_dead_local_claim(token: str) -> bool:
    try:
        _, process, pid, host = token.split(":", 3)
        pid_number = int(pid)
    except ValueError:
        return False
    if host != _HOST or process == _PROCESS:
        return False  # another machine (only staleness tells), or this very process
    if pid_number == os.getpid():
        return True  # our pid, but another process token: the earlier process is gone
    try:
        os.kill(pid_number, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclass
class Prepared:
    content: str
    hash: str
    chunks: list[Piece]


class IngestionRunner:
    def __init__(self, db: Database, settings: Settings, embedder: Embedder, index: VectorIndex,
                 blobs: BlobStore, *, workers: int = 1, stale_seconds: int = 15, poll_seconds: float = 2.0) -> None:
        self.db, self.settings, self.embedder, self.index, self.blobs = db, settings, embedder, index, blobs
        self.worker_id = claim_token()
        self.stale_seconds = stale_seconds
        self.poll_seconds = poll_seconds
        self._slots = asyncio.Semaphore(max(1, workers))
        self._n_workers = max(1, workers)
        self._wake = asyncio.Event()
        self._waiters: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(), name=f"ingest-{i}") for i in range(self._n_workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    # --- public API ----------------------------------------------------------------
    async def submit(self, file_id: str) -> None:
        """Ask the workers to look for work now (the row, already `pending`, is the job)."""
        self._wake.set()

    async def run_now(self, file_id: str) -> None:
        """Process one file in the caller's task (synchronous uploads); waits if a worker has it."""
        async with self._slots:
            claimed = await self._claim(file_id)
            if claimed:
                await self._process(file_id)
        if not claimed:
            await self.wait_until_done(file_id, timeout=None)

    async def wait_until_done(self, file_id: str, timeout: float | None = 120.0) -> str:
        """Wait for `completed` / `failed` (or `not_found` if the row is gone); returns the last status seen."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            status = await self.status(file_id)
            if status in DONE or status == "not_found":
                return status
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return status
            event = self._waiters.setdefault(file_id, asyncio.Event())
            with contextlib.suppress(asyncio.TimeoutError):
                # Short timeout: the job may be running in another replica.
                await asyncio.wait_for(event.wait(), min(0.5, remaining) if remaining is not None else 0.5)

    async def status(self, file_id: str) -> str:
        async with self.db.sessionmaker() as session:
            row = await FileRepository(session).get(file_id)
            return "not_found" if row is None else (row.status or "pending")

    def signature(self) -> str:
        s = self.settings
        return f"{self.embedder.engine}:{self.embedder.name}:{s.CHUNK_SIZE}:{s.CHUNK_OVERLAP}:{int(s.ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER)}"

    def prepare(self, row: File, pieces: Sequence[Piece]) -> Prepared:
        content = "\n\n".join(p.text for p in pieces)
        text_hash = hashlib.sha256(content.encode()).hexdigest()
        chunks = split_pieces(list(pieces), self.settings.CHUNK_SIZE, self.settings.CHUNK_OVERLAP,
                              self.settings.ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER)
        if not chunks:
            raise Unreadable("No text could be extracted from the file (it is empty after extraction)")
        base = {"file_id": row.id, "name": row.filename, "source": row.filename, "created_by": row.user_id,
                "hash": text_hash, "embedding_config": {"engine": self.embedder.engine, "model": self.embedder.name}}
        for chunk in chunks:
            chunk.meta = {**base, **chunk.meta}
        return Prepared(content, text_hash, chunks)

    async def embed(self, texts: Sequence[str], progress: Any = None) -> list[Any]:
        """Embed in groups so progress can be reported (and the claim refreshed) between them.

        Each group's vectors become float32 arrays at once: a 5 MB file's ~5,500 vectors take
        8 MiB that way instead of ~70 MiB as lists of Python floats."""
        import numpy as np

        group = max(64, self.settings.RAG_EMBEDDING_BATCH_SIZE * 4)
        vectors: list[Any] = []
        for start in range(0, len(texts), group):
            vectors.extend(np.asarray(await self.embedder.embed_documents(texts[start:start + group]), dtype=np.float32))
            if progress is not None:
                await progress(len(vectors))
        return vectors

    async def reindex_text(self, file_id: str, text: str) -> None:
        """Replace a file's text and chunks (content update); one transaction, like a job's commit."""
        async with self.db.sessionmaker() as session:
            row = await FileRepository(session).get(file_id)
            if row is None:
                return
            prepared = self.prepare(row, [Piece(text)])
        vectors = await self.embed([c.text for c in prepared.chunks])
        async with self.db.sessionmaker() as session:
            row = await FileRepository(session).get(file_id)
            if row is None:
                return
            await self._commit_chunks(session, row, prepared, vectors)
            await session.commit()

    # --- internals -------------------------------------------------------------------
    def _stale_before(self) -> int:
        return now() - self.stale_seconds

    async def _worker(self) -> None:
        while True:
            try:
                self._wake.clear()
                async with self._slots:
                    file_id = await self._claim_next()
                    if file_id is not None:
                        await self._process(file_id)
                        continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a worker must survive a bad moment (e.g. DB restart)
                log.exception("ingestion worker error")
                await asyncio.sleep(self.poll_seconds)

    async def _claim_next(self) -> str | None:
        async with self.db.sessionmaker() as session:
            repo = FileRepository(session)
            dead = [t for t in await repo.processing_claimants() if is_dead_local_claim(t)]
            for file_id in await repo.claimable_ids(self._stale_before(), dead, limit=5):
                if await repo.claim(file_id, self.worker_id, self._stale_before(), dead):
                    await session.commit()
                    return file_id
            await session.rollback()
        return None

    async def _claim(self, file_id: str) -> bool:
        async with self.db.sessionmaker() as session:
            ok = await FileRepository(session).claim(file_id, self.worker_id, self._stale_before())
            await session.commit()
            return ok

    async def _update(self, file_id: str, **values: Any) -> bool:
        async with self.db.sessionmaker() as session:
            ok = await FileRepository(session).update_claimed(file_id, self.worker_id, **values)
            await session.commit()
            return ok

    async def _heartbeat(self, file_id: str) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.stale_seconds / 4))
            with contextlib.suppress(Exception):
                await self._update(file_id, claimed_at=now())

    async def _process(self, file_id: str) -> None:
        beat = asyncio.create_task(self._heartbeat(file_id))
        try:
            await self._run(file_id)
        except IngestionRunner._Lost:
            pass
        except ExtractionError as exc:
            await self._fail(file_id, exc.message, exc.status)
        except WaylineError as exc:  # e.g. the embedding upstream failed
            await self._fail(file_id, f"Embedding failed: {exc.detail}", 502)
        except Exception as exc:  # noqa: BLE001 - record any failure on the row, never leave it processing
            log.exception("ingestion of %s failed", file_id)
            await self._fail(file_id, f"Processing failed: {type(exc).__name__}: {exc}"[:500], 422)
        finally:
            beat.cancel()
            event = self._waiters.pop(file_id, None)
            if event is not None:
                event.set()

    class _Lost(Exception):
        """The claim was lost (file deleted or taken over): stop quietly."""

    async def _run(self, file_id: str) -> None:
        async with self.db.sessionmaker() as session:
            row = await FileRepository(session).get(file_id)
        if row is None or row.claimed_by != self.worker_id:
            return
        signature = self.signature()
        if await self._reuse_twin(row, signature):
            return
        data = await self.blobs.read(row.path)
        pieces = await asyncio.to_thread(extract, data, row.filename, (row.meta or {}).get("content_type"))
        prepared = await asyncio.to_thread(self.prepare, row, pieces)
        total = len(prepared.chunks)
        if not await self._update(file_id, progress_total=total, progress_done=0, claimed_at=now()):
            return

        async def progress(done: int) -> None:
            if not await self._update(file_id, progress_done=done, claimed_at=now()):
                raise IngestionRunner._Lost()

        try:
            vectors = await self.embed([c.text for c in prepared.chunks], progress)
        except IngestionRunner._Lost:
            return

        async def commit(session: Any) -> None:
            # `require_claim` makes the first statement the conditional UPDATE of the row: the
            # claim check and the write lock come together, so no read precedes the write.
            await self._commit_chunks(session, row, prepared, vectors, signature, require_claim=True)

        await self._write(commit)

    async def _commit_chunks(self, session: Any, row: File, prepared: Prepared, vectors: list[Any],
                             signature: str | None = None, require_claim: bool = False) -> None:
        values = dict(
            status=COMPLETED, content=prepared.content, hash=prepared.hash, error=None, error_status=None,
            progress_done=len(prepared.chunks), progress_total=len(prepared.chunks), claimed_by=None,
            updated_at=now(), meta={**(row.meta or {}), "collection_name": f"file-{row.id}"},
            data={**(row.data or {}), "index_signature": signature or self.signature()},
        )
        repo = FileRepository(session)
        if require_claim:
            if not await repo.update_claimed(row.id, self.worker_id, **values):
                await session.rollback()
                raise IngestionRunner._Lost()
        else:
            for key, value in values.items():
                setattr(row, key, value)
            await session.flush()
        await self.index.delete_file(session, row.id)
        await self.index.add_chunks(session, row.id, [
            NewChunk(i, c.text, c.meta, v) for i, (c, v) in enumerate(zip(prepared.chunks, vectors, strict=True))
        ])

    async def _write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run `work` in a transaction and commit, retrying when SQLite refuses it with
        "database is locked" (a transaction that read before writing cannot wait for the lock:
        it must start again). Losing an hour of embedding to a lock race is not an option."""
        for attempt in range(6):
            try:
                async with self.db.sessionmaker() as session:
                    result = await work(session)
                    await session.commit()
                    return result
            except OperationalError as exc:
                if attempt == 5 or "locked" not in str(exc):
                    raise
                log.info("database busy, retrying a write (attempt %d)", attempt + 1)
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def _reuse_twin(self, row: File, signature: str) -> bool:
        """Identical bytes already indexed the same way: copy their chunks instead of re-embedding."""
        return await self._write(lambda session: self._copy_twin(session, row, signature))

    async def _copy_twin(self, session: Any, row: File, signature: str) -> bool:
        repo = FileRepository(session)
        twin = await repo.find_indexed_twin(row.file_hash, row.id, signature)
        if twin is None:
            return False
        total = await self.index.count(session, twin.id)
        ok = await repo.update_claimed(
            row.id, self.worker_id, status=COMPLETED, content=twin.content, hash=twin.hash, error=None,
            error_status=None, progress_done=total, progress_total=total, claimed_by=None, updated_at=now(),
            meta={**(row.meta or {}), "collection_name": f"file-{row.id}"},
            data={**(row.data or {}), "index_signature": signature},
        )
        if not ok:  # the claim was lost: nothing to do, nothing written
            return True
        await self.index.delete_file(session, row.id)
        await self.index.copy_file(session, twin.id, row.id,
                                   {"file_id": row.id, "name": row.filename, "source": row.filename,
                                    "created_by": row.user_id})
        return True

    async def _fail(self, file_id: str, message: str, status: int) -> None:
        with contextlib.suppress(Exception):
            async with self.db.sessionmaker() as session:
                if await FileRepository(session).update_claimed(
                    file_id, self.worker_id, status=FAILED, error=message, error_status=status, hash=None,
                    content=None, claimed_by=None, updated_at=now(),
                ):
                    await self.index.delete_file(session, file_id)
                await session.commit()
