"""Folders inside a collection (Open WebUI 0.12's `dirs/*` and `file/move`).

Every call is one write transaction opened by `KnowledgeService.writable` (which also locks the
collection's row), so a name check and the write it guards see one state. Sibling names are
unique; a folder cannot move into itself or below itself.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from wayline.core import errors
from wayline.core.clock import now
from wayline.knowledge.directory_repository import DirectoryRepository
from wayline.knowledge.schemas import (
    Directory,
    DirectoryForm,
    DirectoryUpdateForm,
    FileMoveForm,
    Status,
)
from wayline.knowledge.service import KnowledgeService, directory_not_found
from wayline.knowledge.tables import KnowledgeDirectory
from wayline.knowledge.tree import subtree
from wayline.users.schemas import UserInfo


def to_directory(row: KnowledgeDirectory) -> Directory:
    return Directory(
        id=row.id,
        knowledge_id=row.knowledge_id,
        parent_id=row.parent_id,
        name=row.name,
        user_id=row.user_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _name_taken(name: str) -> errors.BadRequest:
    return errors.BadRequest(f"A directory named {name!r} already exists at this level")


class DirectoryService:
    def __init__(self, knowledge: KnowledgeService) -> None:
        self.knowledge = knowledge
        self.session = knowledge.session
        self.dirs = DirectoryRepository(knowledge.session)

    async def _folder(self, knowledge_id: str, directory_id: str) -> KnowledgeDirectory:
        row = await self.dirs.get(knowledge_id, directory_id)
        if row is None:
            raise directory_not_found(directory_id, knowledge_id)
        return row

    async def _commit(self, name: str) -> None:
        try:
            await self.session.commit()
        except IntegrityError as exc:  # the unique index: a clash the check could not see
            await self.session.rollback()
            raise _name_taken(name) from exc

    async def create(self, user: UserInfo, knowledge_id: str, form: DirectoryForm) -> Directory:
        await self.knowledge.writable(user, knowledge_id)
        if form.parent_id is not None:
            await self._folder(knowledge_id, form.parent_id)
        if await self.dirs.name_taken(knowledge_id, form.parent_id, form.name):
            raise _name_taken(form.name)
        row = self.dirs.add(knowledge_id, form.parent_id, form.name, user.id)
        await self._commit(form.name)
        return to_directory(row)

    async def update(
        self, user: UserInfo, knowledge_id: str, directory_id: str, form: DirectoryUpdateForm
    ) -> Directory:
        await self.knowledge.writable(user, knowledge_id)
        row = await self._folder(knowledge_id, directory_id)
        parent = row.parent_id
        if "parent_id" in form.model_fields_set:  # sent, even as null (the root): a move
            parent = form.parent_id
            if parent is not None:
                await self._folder(knowledge_id, parent)
                if parent in subtree(directory_id, await self.dirs.folders(knowledge_id)):
                    raise errors.BadRequest(
                        f"Directory {directory_id} cannot move into itself or a directory inside it"
                    )
        name = form.name if form.name is not None else row.name
        if (parent, name) != (row.parent_id, row.name):
            if await self.dirs.name_taken(knowledge_id, parent, name, other_than=row.id):
                raise _name_taken(name)
            row.parent_id, row.name, row.updated_at = parent, name, now()
        await self._commit(name)
        return to_directory(row)

    async def delete(
        self, user: UserInfo, knowledge_id: str, directory_id: str, move_files: bool
    ) -> Status:
        """Delete a folder and the folders inside it. Their files move to the folder's parent
        (`move_files`), or leave the collection: deleted too when the caller owns them and
        retention is off, as `file/remove` does."""
        await self.knowledge.writable(user, knowledge_id)
        row = await self._folder(knowledge_id, directory_id)
        inside = subtree(directory_id, await self.dirs.folders(knowledge_id))
        if move_files:
            await self.dirs.move_files(knowledge_id, inside, row.parent_id)
            await self.dirs.delete(knowledge_id, [directory_id])
            await self.session.commit()
            return Status()
        file_ids = await self.dirs.file_ids_in(knowledge_id, inside)
        await self.knowledge.repo.unlink(knowledge_id, file_ids)
        await self.dirs.delete(knowledge_id, [directory_id])
        await self.knowledge.finish_unlink(user, file_ids, None)
        return Status()

    async def move_file(self, user: UserInfo, knowledge_id: str, form: FileMoveForm) -> Status:
        await self.knowledge.writable(user, knowledge_id)
        if form.directory_id is not None:
            await self._folder(knowledge_id, form.directory_id)
        if not await self.dirs.move_file(knowledge_id, form.file_id, form.directory_id):
            raise errors.NotFound(f"File {form.file_id} is not in knowledge base {knowledge_id}")
        await self.session.commit()
        return Status()
