"""`/process/text` and `/process/file`: index text or a stored file (synchronously), and link
it into a knowledge collection when `collection_name` names one the caller may write.

Without `collection_name` the result lives in the file's own collection `file-{id}`
(Open WebUI names it by content hash; ours is queryable with `/query/doc` at once).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.files.service import (
    FilesRuntime,
    create_text_file,
    get_readable_file,
    needs_processing,
)
from wayline.knowledge.service import KnowledgeService
from wayline.retrieval.schemas import ProcessFileForm, ProcessResponse, ProcessTextForm
from wayline.retrieval.service import FILE_PREFIX, RetrievalService
from wayline.users.schemas import UserInfo


class Processor:
    def __init__(
        self, session: AsyncSession, files: FilesRuntime, retrieval: RetrievalService
    ) -> None:
        self.session = session
        self.files = files
        self.settings = retrieval.settings
        self.knowledge = KnowledgeService(session, self.settings, files)

    async def process_text(self, user: UserInfo, form: ProcessTextForm) -> ProcessResponse:
        target = await self.target(user, form.collection_name)
        row = await create_text_file(self.session, self.files, user, form.name, form.content)
        return await self._finish(user, row.id, target)

    async def process_file(self, user: UserInfo, form: ProcessFileForm) -> ProcessResponse:
        target = await self.target(user, form.collection_name)
        # Owner or admin: it changes the file.
        row = await get_readable_file(self.session, user, form.file_id)
        unprocessed = needs_processing(row)
        await self.session.rollback()  # reads done; writes below start their own transactions
        if form.content is not None:
            if not form.content.strip():
                raise errors.BadRequest(errors.EMPTY_CONTENT)
            await self.files.ingestion.reindex_text(form.file_id, form.content)
        elif unprocessed:
            # A compare-and-set: a file a worker picked up meanwhile is left alone.
            await self.files.resubmit(self.session, form.file_id)
        return await self._finish(user, form.file_id, target)

    async def target(self, user: UserInfo, collection_name: str | None) -> str | None:
        """The knowledge collection to add the result to (None for a file's own collection),
        once `user` may write it: checked before any work, so a bad name leaves nothing behind."""
        if collection_name is None or collection_name.startswith(FILE_PREFIX):
            return None
        await self.knowledge.writable(user, collection_name)
        await self.session.rollback()  # end this check's transaction before the file is written
        return collection_name

    async def _finish(self, user: UserInfo, file_id: str, target: str | None) -> ProcessResponse:
        row = await self.files.wait_processed(
            self.session, user, file_id, self.settings.KNOWLEDGE_ADD_WAIT_SECONDS
        )
        content, filename = row.content or "", row.filename
        await self.session.rollback()
        if target is not None:
            await self.knowledge.add_file(user, target, file_id)
        return ProcessResponse(
            collection_name=target or f"{FILE_PREFIX}{file_id}",
            content=content,
            filename=filename,
            file_id=file_id,
        )
