"""`/process/files/batch`: index many files and add them to one collection.

Open WebUI's clients send whole `FileModel`s; the stored row decides everything except the
text: a file sent with `data.content` is re-indexed with that text (unless it already holds
exactly that), else its stored text is used (processed first if it never was).

Each file succeeds or fails on its own, so one bad file is reported (in `errors`, and in
`results` once it got past the checks, as Open WebUI reports it) without losing the others:

1. checks, one read, nothing written: the file exists and the caller owns it (or is an
   admin); its text would not duplicate another file's in the collection or in the batch;
2. indexing, a few files at a time, each in sessions of its own;
3. links, as `files/batch/add` makes them: one transaction, each file checked again under
   the collection's lock (so concurrent batches cannot both add the same text).

The collection is checked first (404 unknown, 403 not writable): then nothing is done at all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from wayline.core import errors
from wayline.core.db import Database
from wayline.extraction import ExtractionError
from wayline.files.repository import FileRepository
from wayline.files.service import FilesRuntime, needs_processing, text_hash
from wayline.files.status import COMPLETED
from wayline.knowledge.repository import KnowledgeRepository
from wayline.knowledge.service import KnowledgeService
from wayline.retrieval.processing import Processor
from wayline.retrieval.schemas import (
    BatchFile,
    BatchFileResult,
    BatchProcessForm,
    BatchProcessResponse,
)
from wayline.retrieval.service import RetrievalService
from wayline.users.schemas import UserInfo

CONCURRENCY = 4  # files indexed at once: their chunks share the embedding queue anyway


@dataclass
class _Job:
    file_id: str
    text: str | None  # the text to index in place of the stored one
    reprocess: bool  # never processed, or processing failed: run the file's extraction again


class BatchProcessor:
    def __init__(self, db: Database, files: FilesRuntime, retrieval: RetrievalService) -> None:
        self.db = db
        self.files = files
        self.retrieval = retrieval
        self.settings = retrieval.settings

    async def run(self, user: UserInfo, form: BatchProcessForm) -> BatchProcessResponse:
        async with self.db.sessionmaker() as session:
            target = await Processor(session, self.files, self.retrieval).target(
                user, form.collection_name
            )
        unique = list({f.id: f for f in form.files}.values())
        jobs, refused = await self._check(user, unique, target)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def index(job: _Job) -> str | None:
            async with gate:
                return await self._index(user, job)

        outcomes = await asyncio.gather(*map(index, jobs))
        failures = dict(zip([j.file_id for j in jobs], outcomes, strict=True))
        if target is not None:
            indexed = [j.file_id for j in jobs if failures[j.file_id] is None]
            failures.update(await self._link(user, target, indexed))
        results = [
            BatchFileResult(file_id=j.file_id, status="completed")
            if failures[j.file_id] is None
            else BatchFileResult(file_id=j.file_id, status="failed", error=failures[j.file_id])
            for j in jobs
        ]
        errors_ = refused + [r for r in results if r.status == "failed"]
        return BatchProcessResponse(results=results, errors=errors_)

    async def _check(
        self, user: UserInfo, files: list[BatchFile], target: str | None
    ) -> tuple[list[_Job], list[BatchFileResult]]:
        jobs: list[_Job] = []
        refused: list[BatchFileResult] = []
        seen: set[str] = set()
        async with self.db.sessionmaker() as session:
            rows = {r.id: r for r in await FileRepository(session).get_many([f.id for f in files])}
            knowledge = KnowledgeRepository(session)
            for item in files:
                row = rows.get(item.id)
                error: str | None = None
                if row is None or not (user.is_admin or row.user_id == user.id):
                    # A file the caller may read through a shared collection is not theirs to
                    # re-index; any other is not found, so an id reveals nothing.
                    readable = row is not None and await knowledge.readable_file(user, row.id)
                    error = "Permission denied: not file owner" if readable else "File not found"
                    refused.append(BatchFileResult(file_id=item.id, status="failed", error=error))
                    continue
                text = item.text()
                if text is not None and row.status == COMPLETED and text == row.content:
                    text = None  # already indexed with exactly this text
                content_hash = text_hash(text) if text is not None else row.hash
                if target is not None and content_hash is not None:
                    if content_hash in seen or await knowledge.same_hash_linked(
                        target, content_hash, row.id
                    ):
                        refused.append(
                            BatchFileResult(
                                file_id=item.id, status="failed", error=errors.DUPLICATE_CONTENT
                            )
                        )
                        continue
                    seen.add(content_hash)
                jobs.append(_Job(row.id, text, text is None and needs_processing(row)))
        return jobs, refused

    async def _index(self, user: UserInfo, job: _Job) -> str | None:
        """Index one file and wait until it is done; the reason when it failed."""
        try:
            async with self.db.sessionmaker() as session:
                if job.text is not None:
                    await self.files.ingestion.reindex_text(job.file_id, job.text)
                elif job.reprocess:
                    await self.files.resubmit(session, job.file_id)
                await self.files.wait_processed(
                    session, user, job.file_id, self.settings.KNOWLEDGE_ADD_WAIT_SECONDS
                )
        except errors.WaylineError as exc:
            return str(exc.detail)
        except ExtractionError as exc:
            return exc.message
        return None

    async def _link(self, user: UserInfo, target: str, file_ids: list[str]) -> dict[str, str]:
        """Add the files to the collection in one unit of work (`files/batch/add`: each file
        checked again under the collection's lock); the reason for each file that was not."""
        if not file_ids:
            return {}
        try:
            async with self.db.sessionmaker() as session:
                added = await KnowledgeService(session, self.settings, self.files).add_files(
                    user, target, file_ids
                )
        except errors.WaylineError as exc:  # e.g. the collection was deleted meanwhile
            return dict.fromkeys(file_ids, str(exc.detail))
        failed: dict[str, str] = {}
        for line in added.warnings.errors if added.warnings else []:
            # Open WebUI's form, "<file_id>: <reason>".
            file_id, _, reason = line.partition(": ")
            failed[file_id] = reason
        return failed
