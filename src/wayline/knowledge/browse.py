"""Reading collections the way Open WebUI 0.12's UI and clients do: a collection's files one
folder at a time (`/{id}/files`), collections by name (`/search`), files across every readable
collection (`/search/files`), the export as a zip of extracted texts, and the admin's reindex.
"""

from __future__ import annotations

import asyncio
import tempfile
import zipfile
from collections.abc import AsyncIterator
from typing import IO, Any
from urllib.parse import quote

from wayline.knowledge.directories import to_directory
from wayline.knowledge.directory_repository import DirectoryRepository
from wayline.knowledge.listing_repository import FileFilter, ListingRepository
from wayline.knowledge.schemas import (
    CollectionRef,
    FoundFile,
    FoundFileList,
    KnowledgeFileItem,
    KnowledgeFileList,
    KnowledgeList,
    Owner,
)
from wayline.knowledge.service import (
    PAGE_SIZE,
    KnowledgeService,
    directory_not_found,
    file_meta,
)
from wayline.knowledge.tree import Folder, ancestors, folder_paths
from wayline.users.schemas import UserInfo

EXPORT_BATCH = 50  # files' texts read at a time while the zip is written
EXPORT_SPOOL_BYTES = 16 * 1024 * 1024  # a bigger zip goes to a temporary file


def _owner(user: UserInfo | None) -> Owner | None:
    return None if user is None else Owner.model_validate(user, from_attributes=True)


def _item(row: dict[str, Any], owners: dict[str, UserInfo]) -> KnowledgeFileItem:
    return KnowledgeFileItem(
        **file_meta(row).model_dump(),
        user=_owner(owners.get(row["user_id"])),
        directory_id=row.get("directory_id"),
    )


def _export_name(path: str, filename: str, taken: set[str]) -> str:
    """`path/filename.txt` (Open WebUI adds `.txt` unless the name ends with it), made unique."""
    base = f"{path}/{filename}" if path else filename
    if not base.endswith(".txt"):
        base = f"{base}.txt"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base[:-4]} ({n}).txt"
    taken.add(name)
    return name


class BrowseService:
    def __init__(self, knowledge: KnowledgeService) -> None:
        self.knowledge = knowledge
        self.repo = knowledge.repo
        self.listing = ListingRepository(knowledge.session)
        self.dirs = DirectoryRepository(knowledge.session)

    async def files(
        self, user: UserInfo, knowledge_id: str, where: FileFilter, page: int, limit: int
    ) -> KnowledgeFileList:
        """A page of the collection's files (all of them, or one folder's with `where.in_folder`),
        the folders at that level, and the breadcrumbs down to it."""
        await self.knowledge.readable(user, knowledge_id)
        rows = await self.dirs.all(knowledge_id)
        level = where.folder if where.in_folder else None
        if level is not None and all(r.id != level for r in rows):
            raise directory_not_found(level, knowledge_id)
        files, total = await self.listing.files(
            user, knowledge_id, where, (page - 1) * limit, limit
        )
        owners = await self.repo.owners([f["user_id"] for f in files])
        by_id = {r.id: r for r in rows}
        chain = ancestors(level, [Folder(r.id, r.parent_id, r.name) for r in rows])
        return KnowledgeFileList(
            items=[_item(f, owners) for f in files],
            directories=[to_directory(r) for r in rows if r.parent_id == level],
            breadcrumbs=[to_directory(by_id[f.id]) for f in chain],
            total=total,
        )

    async def search(
        self,
        user: UserInfo,
        query: str | None,
        view_option: str | None,
        order_by: str | None,
        direction: str | None,
        page: int,
    ) -> KnowledgeList:
        limit = PAGE_SIZE
        rows, total = await self.listing.collections(
            user, query, view_option, order_by, direction, (page - 1) * limit, limit
        )
        return KnowledgeList(items=await self.knowledge.list_items(user, rows), total=total)

    async def search_files(
        self, user: UserInfo, query: str | None, include_content: bool, page: int
    ) -> FoundFileList:
        limit = PAGE_SIZE
        found, total = await self.listing.found_files(
            user, query, include_content, (page - 1) * limit, limit
        )
        owners = await self.repo.owners([f["user_id"] for f, _ in found])
        grants = await self.repo.grants(list({k.id for _, k in found}))
        items = [
            FoundFile(
                **_item(f, owners).model_dump(),
                collection=CollectionRef(
                    id=k.id,
                    user_id=k.user_id,
                    name=k.name,
                    description=k.description,
                    meta=k.meta,
                    access_grants=grants[k.id],
                    created_at=k.created_at,
                    updated_at=k.updated_at,
                ),
            )
            for f, k in found
        ]
        return FoundFileList(items=items, total=total)

    async def export(self, user: UserInfo, knowledge_id: str) -> tuple[str, IO[bytes]]:
        """The collection's extracted texts as a zip: (download name, the zip, rewound). Files
        keep their folder paths inside it, so two files of one name in two folders both fit."""
        row = await self.knowledge.readable(user, knowledge_id)
        paths = folder_paths(await self.dirs.folders(knowledge_id))
        ids = await self.listing.export_ids(knowledge_id)
        # Handed to the response, which closes it once sent (`chunks_of`).
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL_BYTES)  # noqa: SIM115
        taken: set[str] = set()
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            for start in range(0, len(ids), EXPORT_BATCH):
                texts = await self.listing.export_texts(
                    knowledge_id, ids[start : start + EXPORT_BATCH]
                )
                for filename, folder, text in texts:
                    if text:
                        name = _export_name(paths.get(folder or "", ""), filename, taken)
                        await asyncio.to_thread(archive.writestr, name, text)
        spool.seek(0)
        safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in row.name)
        return f"{safe}.zip", spool

    async def reindex(self) -> bool:
        """Open WebUI rebuilds every collection's vectors. Here a collection holds links to its
        files' own chunks, so there is nothing to rebuild but the files whose vectors are out of
        date: processing failed, or another embedder or chunking than the current one. Those are
        queued again; the others keep their vectors."""
        ids = await self.listing.all_linked_ids()
        await self.knowledge.files_runtime.reprocess_outdated(self.knowledge.session, ids)
        return True

    async def collection_count(self) -> int:
        return await self.listing.count_collections()


def content_disposition(filename: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


async def chunks_of(stream: IO[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    try:
        while block := await asyncio.to_thread(stream.read, size):
            yield block
    finally:
        stream.close()
