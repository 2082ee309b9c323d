"""Open WebUI 0.12's incremental sync (`/{id}/sync/diff`, `/{id}/sync/cleanup`), what `oikb`
drives: the client sends its tree as a manifest, the server answers what to upload and what to
remove (`tree.diff`), the client removes the stale files and folders, creates the missing
folders and uploads with `metadata.knowledge_id` (see `uploads.py`).

A file left unchanged is never touched: not re-uploaded, not re-processed, its vectors kept.
Both calls need write access, as in Open WebUI (404 for a collection the caller cannot read,
403 for one they cannot change).
"""

from __future__ import annotations

from wayline.knowledge.directory_repository import DirectoryRepository
from wayline.knowledge.listing_repository import ListingRepository
from wayline.knowledge.schemas import (
    AddedFile,
    DeletedFile,
    ModifiedFile,
    Status,
    SyncCleanupForm,
    SyncDiffForm,
    SyncDiffResponse,
)
from wayline.knowledge.service import KnowledgeService, no_write_access
from wayline.knowledge.tree import Wanted, diff, subtree
from wayline.users.schemas import UserInfo


class SyncService:
    def __init__(self, knowledge: KnowledgeService) -> None:
        self.knowledge = knowledge
        self.dirs = DirectoryRepository(knowledge.session)
        self.listing = ListingRepository(knowledge.session)

    async def diff(self, user: UserInfo, knowledge_id: str, form: SyncDiffForm) -> SyncDiffResponse:
        # A read: the answer is advice, acted on by later calls that each check again.
        await self.knowledge.readable(user, knowledge_id)
        if not await self.knowledge.repo.writable(user, knowledge_id):
            raise no_write_access(knowledge_id)
        result = diff(
            [Wanted(e.filename, e.path, e.checksum) for e in form.manifest],
            await self.dirs.folders(knowledge_id),
            await self.listing.stored_files(knowledge_id),
        )
        return SyncDiffResponse(
            added=[AddedFile(filename=n, path=p) for n, p in result.added],
            modified=[
                ModifiedFile(filename=n, path=p, stale_file_id=i) for n, p, i in result.modified
            ],
            deleted=[DeletedFile(file_id=i, filename=n) for i, n in result.deleted],
            mkdir=result.mkdir,
            rmdir=result.rmdir,
            unmodified_count=result.unmodified_count,
            directory_map=result.directory_map,
        )

    async def cleanup(self, user: UserInfo, knowledge_id: str, form: SyncCleanupForm) -> Status:
        """Remove files and folders from the collection, in one transaction. Ids that are not
        the collection's are skipped, as in Open WebUI. A folder's files leave with it. A
        removed file is deleted too when the caller owns it (an admin: any) and no other
        collection holds it."""
        await self.knowledge.writable(user, knowledge_id)
        repo = self.knowledge.repo
        linked = set(await repo.linked_ids(knowledge_id))
        file_ids = [f for f in dict.fromkeys(form.file_ids) if f in linked]
        folders = await self.dirs.folders(knowledge_id)
        known = {f.id for f in folders}
        dir_ids = [d for d in dict.fromkeys(form.dir_ids) if d in known]
        inside = list(dict.fromkeys(i for d in dir_ids for i in subtree(d, folders)))
        for file_id in await self.dirs.file_ids_in(knowledge_id, inside):
            if file_id not in file_ids:
                file_ids.append(file_id)
        await repo.unlink(knowledge_id, file_ids)
        await self.dirs.delete(knowledge_id, dir_ids)
        elsewhere = await self.listing.linked_anywhere(file_ids)
        await self.knowledge.finish_unlink(
            user, [f for f in file_ids if f not in elsewhere], requested=True
        )
        return Status()
