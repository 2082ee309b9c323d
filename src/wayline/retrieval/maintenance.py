"""Admin operations on the vector store: `/delete`, `/reset/db`, `/reset/uploads`.

A file's chunks belong to the file (collections link files, they hold no copies), so what
Open WebUI does to its vector collections is done here to links and to files' chunks, always
in the transaction that keeps the rows in step: no chunk outlives the state that says it is
there, and no file says `completed` without its chunks.

- `/delete {collection_name, file_id}`: the entries of that file's text leave the collection.
  From a knowledge collection, the file is unlinked (it stays, with its chunks, in its own
  collection and any other); from `file-{id}`, that file's chunks are deleted and it is
  "stored, not processed" again until `/process/file` indexes it anew.
- `/reset/db`: every chunk and every knowledge collection goes; files stay, not processed.
- `/reset/uploads`: every stored upload is deleted; rows keep their extracted text (served
  by `/api/v1/files/{id}/content/{name}`), and searching them works as before.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.db import begin_write
from wayline.files.repository import FileRepository
from wayline.files.service import FilesRuntime
from wayline.files.status import COMPLETED
from wayline.knowledge.repository import KnowledgeRepository
from wayline.retrieval.service import FILE_PREFIX
from wayline.users.schemas import UserInfo

NO_HASH = "File has no hash; cannot delete vector entries by hash."


class VectorMaintenance:
    def __init__(self, session: AsyncSession, files: FilesRuntime) -> None:
        self.session = session
        self.files = files

    async def delete_entries(
        self, admin: UserInfo, collection_name: str, file_id: str
    ) -> dict[str, bool]:
        """`{"status": false}` when there is no such collection, as Open WebUI answers."""
        await begin_write(self.session)
        repo, knowledge = FileRepository(self.session), KnowledgeRepository(self.session)
        holder = None
        if collection_name.startswith(FILE_PREFIX):
            holder = await repo.lock(collection_name[len(FILE_PREFIX) :])
            exists = holder is not None and holder.status == COMPLETED
        else:
            exists = await knowledge.readable(admin, collection_name) is not None
        if not exists:
            await self.session.rollback()
            return {"status": False}
        file = await repo.get(file_id)
        if file is None:
            raise errors.NotFound(errors.NOT_FOUND)
        if file.hash is None:
            raise errors.BadRequest(NO_HASH)
        if holder is None:
            await knowledge.lock(collection_name)
            await knowledge.unlink(collection_name, [file.id])
        elif holder.hash == file.hash:
            await self.files.index.delete_file(self.session, holder.id)
            await repo.forget_indexes([holder.id])
        await self.session.commit()
        return {"status": True}

    async def reset_db(self) -> None:
        await begin_write(self.session)
        await self.files.index.delete_all(self.session)
        await FileRepository(self.session).forget_indexes()
        await KnowledgeRepository(self.session).delete_all()
        await self.session.commit()

    async def reset_uploads(self) -> bool:
        await self.files.blobs.delete_all()
        return True
