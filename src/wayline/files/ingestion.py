"""The durable ingestion job: extract → chunk → embed → index.

State lives in the file row, not in memory: `pending` rows are claimed with a
compare-and-set (on PostgreSQL the candidate is picked `FOR UPDATE SKIP LOCKED`), so any
replica may run a job. A running job refreshes `claimed_at` (heartbeat); a `processing`
row whose claim is older than `stale_seconds` belongs to a dead worker and is claimed
again, so a restart resumes it. Chunks, vectors, FTS rows and the `completed` status are
written in ONE transaction that first re-checks the claim: a crash, a failure or a
concurrent delete leaves no partial set, and a resumed job replaces nothing twice.

Shutdown (`stop()`, from the lifespan: after uvicorn's graceful shutdown, on SIGTERM) cancels
the jobs and gives back the rows this process still holds: `processing` → `pending` with the
claim cleared, in one write, compare-and-set on our claim. Another replica, or the next start,
takes them at once instead of after `stale_seconds`. A killed process (SIGKILL, OOM) cannot do
that: its claims go stale, or a restart on the same host sees that their process is gone.

Fairness and throughput: a process holds up to `64 × INGEST_WORKERS` jobs at once, of which
at most `4 × INGEST_WORKERS` are files over 64 KiB (they are what takes memory; the others are
left to other replicas meanwhile), and makes only `INGEST_WORKERS` embedding calls at a time.
Jobs queue for those calls one group of chunks at a time, first come, first served
(`batching.EmbeddingQueue`), and one call carries
the groups of several jobs up to `RAG_EMBEDDING_BATCH_SIZE`-or-64 chunks: a small file behind
a big one waits for one group of the big one, not for all of it, and a corpus of small files
is embedded in full batches rather than ~3 chunks per call. Extraction runs in
a child process under FILE_EXTRACTION_TIMEOUT (`extraction.isolation`), `INGEST_WORKERS + 1`
at a time, so one slow file cannot hold the others' extraction either.

Where jobs run: in every replica by default; with `INGEST_WORKERS=0` a replica runs none (not
even a synchronous upload's: it waits for the row instead) and `wayline worker` processes
take them. A new job is announced on the bus (`JOBS_TOPIC`), so with `REDIS_URL` a worker on
another host starts it at once rather than at its next poll; and the job's progress and end are
announced too (`PROGRESS_TOPIC`), so a replica that waits for the row (a synchronous upload, a
progress stream) reads it again at once rather than at its next poll (`changed`).

Writes open their transaction with `Database.write()` (BEGIN IMMEDIATE on SQLite: the
check and the write see one state, and writers queue for the lock instead of failing).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import Database
from wayline.core.errors import WaylineError
from wayline.core.metrics import INGESTION_CHUNKS, INGESTION_QUEUE_DEPTH
from wayline.core.settings import Settings
from wayline.core.tasks import Signals, stop_tasks, wait_event
from wayline.embeddings import Embedder
from wayline.extraction import ExtractionError, Unreadable
from wayline.extraction.chunking import Piece, split_pieces
from wayline.extraction.isolation import extract_isolated
from wayline.extraction.limits import ExtractionLimits
from wayline.files.batching import EmbeddingQueue
from wayline.files.blobs import BlobStore, StorageUnavailable
from wayline.files.claims import claim_token, is_dead_local_claim
from wayline.files.hooks import UploadHook
from wayline.files.repository import FileRepository
from wayline.files.tables import COMPLETED, FAILED, PENDING, File
from wayline.vectors import NewChunk, VectorIndex

T = TypeVar("T")

log = logging.getLogger("wayline.ingestion")
DONE = (COMPLETED, FAILED)
JOBS_PER_WORKER = 64  # enough small files waiting to fill the next embedding call
BIG_JOBS_PER_WORKER = 4
BIG_FILE_BYTES = 64 * 1024
MIN_EMBED_GROUP = 64  # chunks per turn: ~2 s of the local model on 2 cores
JOBS_TOPIC = "ingestion.pending"
PROGRESS_TOPIC = "ingestion.progress"  # {"id": file_id}: the row's progress or status moved
# How often a waiter reads the row again without news: soon when only this process can tell it
# (no shared bus), as a safety net when every process announces its jobs' progress over Redis.
POLL_SECONDS, SHARED_POLL_SECONDS = 0.5, 2.0


@dataclass
class Prepared:
    content: str
    hash: str
    chunks: list[Piece]


class IngestionRunner:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        embedder: Embedder,
        index: VectorIndex,
        blobs: BlobStore,
        *,
        workers: int = 1,
        stale_seconds: int = 15,
        poll_seconds: float = 2.0,
        bus: Bus | None = None,
    ) -> None:
        self.db, self.settings, self.embedder, self.index, self.blobs = (
            db,
            settings,
            embedder,
            index,
            blobs,
        )
        self.limits = ExtractionLimits.from_settings(settings)
        self.worker_id = claim_token()
        self.stale_seconds = stale_seconds
        self.poll_seconds = poll_seconds
        self.runs_jobs = workers > 0  # INGEST_WORKERS=0: `wayline worker` processes run them
        self._bus = bus
        workers = max(1, workers)
        self._extracting = asyncio.Semaphore(workers + 1)
        self._max_jobs = JOBS_PER_WORKER * workers
        self._max_big_jobs = BIG_JOBS_PER_WORKER * workers
        self._big_jobs: set[str] = set()
        self._group = max(MIN_EMBED_GROUP, settings.RAG_EMBEDDING_BATCH_SIZE)
        self._embedding = EmbeddingQueue(embedder, self._group, calls=workers)
        self._jobs: dict[str, asyncio.Task[None]] = {}
        # Rows claimed and not finished: a job ended by cancellation stays here for `stop()`.
        self._held: set[str] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._moved = Signals()  # file ids whose row may have moved
        if bus is not None:
            bus.subscribe(PROGRESS_TOPIC, lambda message: self._signal(str(message.get("id"))))
            if self.runs_jobs:
                bus.subscribe(JOBS_TOPIC, lambda _: self._wake.set())
        # A higher domain's part in a completed upload (`FilesRuntime.attach`).
        self.hook: UploadHook | None = None

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        if not self.runs_jobs:
            return
        self._stopping = False  # (started again after a stop: the tests do)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="ingest-dispatch")

    async def stop(self) -> None:
        self._stopping = True
        tasks = [task for task in (self._dispatcher, *self._jobs.values()) if task is not None]
        await stop_tasks(tasks)
        self._dispatcher = None
        self._jobs.clear()
        await self._embedding.close()
        await self._release_held()

    async def _release_held(self) -> None:
        """Give the rows this process still holds back to the queue: `pending`, claim cleared."""
        held = sorted(self._held)
        self._held.clear()
        if not held:
            return

        async def release(session: Any) -> int:
            repo = FileRepository(session)
            released = 0
            for file_id in held:  # compare-and-set: a row finished or taken over stays as it is
                released += await repo.update_claimed(
                    file_id,
                    self.worker_id,
                    status=PENDING,
                    claimed_by=None,
                    claimed_at=None,
                    progress_done=0,
                    progress_total=0,
                    updated_at=now(),
                )
            return released

        try:
            released = await self._write(release)
        except Exception:
            log.exception(
                "could not release %d ingestion job(s): they resume once stale", len(held)
            )
            return
        if released:
            log.info("released %d unfinished ingestion job(s) back to the queue", released)

    # --- public API ----------------------------------------------------------------
    async def submit(self, file_id: str) -> None:
        """Ask the dispatchers to look for work now (the row, already `pending`, is the job):
        this process's, and through a shared bus every other's."""
        self._wake.set()
        if self._bus is not None and self._bus.shared:
            await self._bus.publish(JOBS_TOPIC, {})

    async def run_now(self, file_id: str) -> None:
        """Process one file in the caller's task (synchronous uploads); waits if a worker has it,
        or if this replica runs no jobs."""
        if not self.runs_jobs:
            await self.submit(file_id)
            await self.wait_until_done(file_id, timeout=None)
        elif await self._claim(file_id):
            await self._process(file_id)
        else:
            await self.wait_until_done(file_id, timeout=None)

    async def wait_until_done(self, file_id: str, timeout: float | None = 120.0) -> str:
        """Wait for `completed` / `failed` (or `not_found` if the row is gone); returns the last
        status seen."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            status = await self.status(file_id)
            if status in DONE or status == "not_found":
                return status
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return status
            await self.changed(file_id, remaining)

    async def changed(self, file_id: str, timeout: float | None = None) -> None:
        """Return when the file's job may have moved (its progress or end, announced by the
        process running it), or after the poll interval (or `timeout`, if sooner)."""
        shared = self._bus is not None and self._bus.shared
        wait = SHARED_POLL_SECONDS if shared else POLL_SECONDS
        await self._moved.wait(file_id, wait if timeout is None else min(wait, timeout))

    def _signal(self, file_id: str) -> None:
        self._moved.set(file_id)

    async def _announce(self, file_id: str) -> None:
        """Tell the waiters, here and (with a shared bus) in every process, that the row moved."""
        self._signal(file_id)
        if self._bus is not None and self._bus.shared:
            with contextlib.suppress(Exception):  # (the bus logs its own failures)
                await self._bus.publish(PROGRESS_TOPIC, {"id": file_id})

    async def status(self, file_id: str) -> str:
        async with self.db.sessionmaker() as session:
            row = await FileRepository(session).get(file_id)
            return "not_found" if row is None else (row.status or "pending")

    async def queue_depth(self) -> int:
        """Files waiting to be processed or being processed, by any replica (the rows are the
        queue). Sets `wayline_ingestion_queue_depth`: counted when scraped, not on every job."""
        async with self.db.sessionmaker() as session:
            depth = await FileRepository(session).unfinished_count()
        INGESTION_QUEUE_DEPTH.set(depth)
        return depth

    def signature(self) -> str:
        s = self.settings
        embedder = f"{self.embedder.engine}:{self.embedder.name}"
        splitter = int(s.ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER)
        return f"{embedder}:{s.CHUNK_SIZE}:{s.CHUNK_OVERLAP}:{splitter}"

    def prepare(self, row: File, pieces: Sequence[Piece]) -> Prepared:
        content = "\n\n".join(p.text for p in pieces)
        text_hash = hashlib.sha256(content.encode()).hexdigest()
        chunks = split_pieces(
            list(pieces),
            self.settings.CHUNK_SIZE,
            self.settings.CHUNK_OVERLAP,
            self.settings.ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER,
        )
        if not chunks:
            raise Unreadable(
                "No text could be extracted from the file (it is empty after extraction)"
            )
        base = {
            "file_id": row.id,
            "name": row.filename,
            "source": row.filename,
            "created_by": row.user_id,
            "hash": text_hash,
            "embedding_config": {"engine": self.embedder.engine, "model": self.embedder.name},
        }
        for chunk in chunks:
            chunk.meta = {**base, **chunk.meta}
        return Prepared(content, text_hash, chunks)

    async def embed(self, texts: Sequence[str], progress: Any = None) -> list[Any]:
        """Embed group by group, taking turns with the other jobs; report progress between groups.

        Each group's vectors are float32 arrays (`EmbeddingQueue`): a 5 MB file's ~5,500 vectors
        take 8 MiB that way instead of ~70 MiB as lists of Python floats."""
        # Groups are cut from the file's chunks sorted by length, as one call would sort them:
        # groups of similar lengths pad little (in file order, ingestion ran ~10% slower).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[Any] = [None] * len(texts)
        for start in range(0, len(order), self._group):
            members = order[start : start + self._group]
            group = await self._embedding.embed([texts[i] for i in members])
            for i, vector in zip(members, group, strict=True):
                vectors[i] = vector
            if progress is not None:
                await progress(start + len(members))
        return vectors

    async def reindex_text(self, file_id: str, text: str) -> None:
        """Replace a file's text and chunks (content update); one transaction, like a job's
        commit."""
        async with self.db.sessionmaker() as session:
            row = await FileRepository(session).get(file_id)
        if row is None:
            return
        prepared = self.prepare(row, [Piece(text)])
        vectors = await self.embed([c.text for c in prepared.chunks])

        async def commit(session: Any) -> bool:
            current = await FileRepository(session).lock(file_id)
            if current is None:
                return False
            await self._commit_chunks(session, current, prepared, vectors, edited=True)
            return True

        if await self._write(commit):
            INGESTION_CHUNKS.inc(len(prepared.chunks))

    # --- internals -------------------------------------------------------------------
    def _stale_before(self) -> int:
        return now() - self.stale_seconds

    async def _dispatch(self) -> None:
        """Claim pending jobs while there is room, each in its own task; sleep until woken or
        polled."""
        while not self._stopping:
            try:
                self._wake.clear()
                while len(self._jobs) < self._max_jobs and (
                    claimed := await self._claim_next(
                        self._max_jobs - len(self._jobs),
                        self._max_big_jobs - len(self._big_jobs),
                    )
                ):
                    for file_id, big in claimed:
                        if big:
                            self._big_jobs.add(file_id)
                        self._start_job(file_id)
                await wait_event(self._wake, self.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ingestion dispatcher error")
                await asyncio.sleep(self.poll_seconds)

    def _start_job(self, file_id: str) -> None:
        task = asyncio.create_task(self._process(file_id), name=f"ingest-{file_id}")
        self._jobs[file_id] = task

        def finished(_: asyncio.Task[None]) -> None:
            self._jobs.pop(file_id, None)
            self._big_jobs.discard(file_id)
            self._wake.set()  # room for another job

        task.add_done_callback(finished)

    async def _claim_next(self, room: int, big_room: int) -> list[tuple[str, bool]]:
        """Claim up to `room` jobs, of which up to `big_room` files over BIG_FILE_BYTES, in one
        transaction (a queue of small files costs one write per batch of claims, not one per
        file); (id, big) of each."""
        claimed: list[tuple[str, bool]] = []
        async with self.db.write() as session:  # the pick and the claim see one state
            repo = FileRepository(session)
            dead = [t for t in await repo.processing_claimants() if is_dead_local_claim(t)]
            for file_id, size in await repo.claimable(self._stale_before(), dead, limit=room):
                big = size > BIG_FILE_BYTES
                if big and big_room <= 0:
                    continue  # left pending: another replica, or this one later, takes it
                if await repo.claim(file_id, self.worker_id, self._stale_before(), dead):
                    self._held.add(file_id)  # before the commit, which a cancellation may cut
                    claimed.append((file_id, big))
                    big_room -= big
        return claimed

    async def _claim(self, file_id: str) -> bool:
        async with self.db.write() as session:
            claimed = await FileRepository(session).claim(
                file_id, self.worker_id, self._stale_before()
            )
            if claimed:
                self._held.add(file_id)
            return claimed

    async def _update(self, file_id: str, **values: Any) -> bool:
        # Through `_write`: a progress update that meets a busy database retries; failing it
        # would fail the file (seen once in 5,183 uploads while a backup held the lock).
        return await self._write(
            lambda session: FileRepository(session).update_claimed(
                file_id, self.worker_id, **values
            )
        )

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
        except StorageUnavailable as exc:  # the bucket is down: say so, not "embedding"
            await self._fail(file_id, str(exc.detail), exc.status_code)
        except WaylineError as exc:  # e.g. the embedding upstream failed
            await self._fail(file_id, f"Embedding failed: {exc.detail}", 502)
        except Exception as exc:
            log.exception("ingestion of %s failed", file_id)
            await self._fail(file_id, f"Processing failed: {type(exc).__name__}: {exc}"[:500], 422)
        finally:
            beat.cancel()
            task = asyncio.current_task()
            if task is None or not task.cancelling():
                self._held.discard(file_id)
                await self._announce(file_id)
            else:  # cancelled (shutdown): the row may still be ours, `stop()` gives it back
                self._signal(file_id)

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
        await self._index(row, signature)

    async def _index(self, row: File, signature: str) -> None:
        file_id = row.id
        async with self._extracting:
            # The extraction process reads a local file (the blob's own, or a temporary copy of
            # a remote one): the server never holds the bytes.
            try:
                async with self.blobs.materialized(row.path) as source:
                    pieces = await extract_isolated(
                        source, row.filename, (row.meta or {}).get("content_type"), self.limits
                    )
            except FileNotFoundError:
                if not await self._update(file_id, claimed_at=now()):
                    raise IngestionRunner._Lost() from None  # deleted while queued: nothing to do
                raise
        prepared = await asyncio.to_thread(self.prepare, row, pieces)
        total = len(prepared.chunks)
        # A file embedded in one group shows no progress between 0 and done: its commit says
        # both (and re-checks the claim), one write instead of two.
        if total > self._group:
            if not await self._update(
                file_id, progress_total=total, progress_done=0, claimed_at=now()
            ):
                return
            await self._announce(file_id)

        async def progress(done: int) -> None:
            if done == total:  # the commit says so, in the same write as the chunks
                return
            if not await self._update(file_id, progress_done=done, claimed_at=now()):
                raise IngestionRunner._Lost()
            await self._announce(file_id)

        try:
            vectors = await self.embed([c.text for c in prepared.chunks], progress)
        except IngestionRunner._Lost:
            return

        async def commit(session: Any) -> None:
            # `require_claim`: the claim is re-checked by the same transaction that writes the
            # chunks.
            await self._commit_chunks(
                session, row, prepared, vectors, signature, require_claim=True
            )

        await self._write(commit)
        INGESTION_CHUNKS.inc(total)  # committed: a lost claim raised instead

    async def _commit_chunks(
        self,
        session: Any,
        row: File,
        prepared: Prepared,
        vectors: list[Any],
        signature: str | None = None,
        require_claim: bool = False,
        edited: bool = False,
    ) -> None:
        data = {**(row.data or {}), "index_signature": signature or self.signature()}
        if edited:
            # The text no longer comes from the uploaded bytes: without a signature this file is
            # never a twin, so an upload of the same bytes (by anyone) cannot copy the edited text.
            data.pop("index_signature")
        values = dict(
            status=COMPLETED,
            content=prepared.content,
            hash=prepared.hash,
            error=None,
            error_status=None,
            progress_done=len(prepared.chunks),
            progress_total=len(prepared.chunks),
            claimed_by=None,
            updated_at=now(),
            meta={**(row.meta or {}), "collection_name": f"file-{row.id}"},
            data=data,
        )
        repo = FileRepository(session)
        if require_claim:
            # `row` was read when the job began: the meta is re-read, locked, so a rename made
            # meanwhile is kept.
            values["meta"] = await _current_meta(repo, row)
            if not await repo.update_claimed(row.id, self.worker_id, **values):
                raise IngestionRunner._Lost()  # `_write` rolls the transaction back
        else:
            for key, value in values.items():
                setattr(row, key, value)
            await session.flush()
        await self.index.delete_file(session, row.id)
        await self.index.add_chunks(
            session,
            row.id,
            [
                NewChunk(i, c.text, c.meta, v)
                for i, (c, v) in enumerate(zip(prepared.chunks, vectors, strict=True))
            ],
        )
        await self._completed(session, row)

    async def _completed(self, session: Any, row: File) -> None:
        """In the transaction that marks `row` completed: the upload hook's part (knowledge links
        an upload that named a collection), committed with the chunks or not at all."""
        if self.hook is not None:
            metadata = (row.meta or {}).get("data")
            if not isinstance(metadata, dict):
                metadata = {}
            await self.hook.processed(session, row.id, metadata)

    async def _write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run `work` in one write transaction and commit. With BEGIN IMMEDIATE a writer waits for
        the lock (busy_timeout); should even that run out, try again rather than lose the
        embedding work of a whole file."""
        for attempt in range(6):
            try:
                async with self.db.write() as session:
                    return await work(session)
            except OperationalError as exc:
                if attempt == 5 or "locked" not in str(exc):
                    raise
                log.info("database busy, retrying a write (attempt %d)", attempt + 1)
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def _reuse_twin(self, row: File, signature: str) -> bool:
        """Identical bytes already indexed the same way: copy their chunks instead of
        re-embedding. Looked up in a read first: most files have no twin, and a write
        transaction per file is what a queue of small files would wait on."""
        async with self.db.sessionmaker() as session:
            if (
                await FileRepository(session).find_indexed_twin(row.file_hash, row.id, signature)
                is None
            ):
                return False
        return await self._write(lambda session: self._copy_twin(session, row, signature))

    async def _copy_twin(self, session: Any, row: File, signature: str) -> bool:
        repo = FileRepository(session)
        twin = await repo.find_indexed_twin(row.file_hash, row.id, signature)
        if twin is None:
            return False
        total = await self.index.count(session, twin.id)
        ok = await repo.update_claimed(
            row.id,
            self.worker_id,
            status=COMPLETED,
            content=twin.content,
            hash=twin.hash,
            error=None,
            error_status=None,
            progress_done=total,
            progress_total=total,
            claimed_by=None,
            updated_at=now(),
            meta=await _current_meta(repo, row),
            data={**(row.data or {}), "index_signature": signature},
        )
        if not ok:  # the claim was lost: nothing to do, nothing written
            return True
        await self.index.delete_file(session, row.id)
        await self.index.copy_file(
            session,
            twin.id,
            row.id,
            {
                "file_id": row.id,
                "name": row.filename,
                "source": row.filename,
                "created_by": row.user_id,
            },
        )
        await self._completed(session, row)
        return True

    async def _fail(self, file_id: str, message: str, status: int) -> None:
        # The error ends here (the caller catches it): say what it was, whatever happens next.
        log.warning("ingestion of %s failed (%d): %s", file_id, status, message)

        async def record(session: Any) -> bool:
            if await FileRepository(session).update_claimed(
                file_id,
                self.worker_id,
                status=FAILED,
                error=message or "Processing failed",
                error_status=status,
                hash=None,
                content=None,
                claimed_by=None,
                updated_at=now(),
            ):
                await self.index.delete_file(session, file_id)
                return True
            return False

        try:
            recorded = await self._write(record)
        except Exception:
            log.exception("could not record the failure of %s", file_id)
            return
        if not recorded:
            log.warning(
                "the failure of %s was not recorded: the file is gone or another worker claimed it",
                file_id,
            )


async def _current_meta(repo: FileRepository, row: File) -> dict[str, Any]:
    """The file's meta as stored now (locked for the rest of the transaction), naming its
    collection; `row`'s own when the row is gone (the claim check then finds nothing)."""
    current = await repo.lock(row.id)
    meta = (current if current is not None else row).meta or {}
    return {**meta, "collection_name": f"file-{row.id}"}
