"""Collections: create, list, share, and link files (a link, never a copy of chunks).

Status codes (one rule, everywhere): a collection or file the caller cannot read is
404 naming its id (we do not reveal that it exists); one they can read but not change
is 403 naming its id. Open WebUI mixes 400 and 401 for these; clients only test for
"not 2xx", and 404/403 say what happened.

Every write is one transaction opened with `begin_write` before its first read (SQLite:
BEGIN IMMEDIATE, so writers queue instead of failing), and nothing inside it waits on
anything but the database: no second session, no waiting for a file to be processed.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.clock import new_id, now
from wayline.core.db import begin_write
from wayline.core.grants import EVERYONE, AccessGrantForm, Grant, group_ids_of
from wayline.core.settings import Settings
from wayline.files.repository import FileRepository
from wayline.files.service import FilesRuntime
from wayline.files.status import FAILED, STORED
from wayline.knowledge.directory_repository import DirectoryRepository
from wayline.knowledge.repository import KnowledgeRepository
from wayline.knowledge.schemas import (
    BatchWarnings,
    FileMeta,
    KnowledgeBatchResponse,
    KnowledgeForm,
    KnowledgeList,
    KnowledgeListItem,
    KnowledgeResponse,
    Owner,
)
from wayline.knowledge.tables import Knowledge
from wayline.users.group_service import check_grant_targets
from wayline.users.schemas import UserInfo

PAGE_SIZE = 30


def collection_not_found(knowledge_id: str) -> errors.NotFound:
    return errors.NotFound(f"Knowledge base {knowledge_id} not found")


def file_not_found(file_id: str) -> errors.NotFound:
    return errors.NotFound(f"File {file_id} not found")


def directory_not_found(directory_id: str, knowledge_id: str) -> errors.NotFound:
    return errors.NotFound(f"Directory {directory_id} not found in knowledge base {knowledge_id}")


def no_write_access(knowledge_id: str) -> errors.Forbidden:
    return errors.Forbidden(f"You do not have write access to knowledge base {knowledge_id}")


def _grants(forms: Sequence[AccessGrantForm] | None) -> list[Grant]:
    # "anyone" is accepted and stored in Open WebUI's public form.
    return [
        ("user", EVERYONE, g.permission)
        if g.principal_type == "anyone"
        else (g.principal_type, g.principal_id, g.permission)
        for g in forms or ()
    ]


def _owner(user: Any) -> Owner | None:
    if user is None:
        return None
    return Owner(
        id=user.id,
        name=user.name,
        email=user.email,
        role=user.role,
        profile_image_url=user.profile_image_url,
    )


def file_meta(row: dict[str, Any]) -> FileMeta:
    data = dict(row.get("data") or {})
    data["status"] = row["status"]
    if row.get("error"):
        data["error"] = row["error"]
    return FileMeta(
        id=row["id"],
        user_id=row["user_id"],
        hash=row["hash"],
        filename=row["filename"],
        meta=row["meta"] or {},
        data=data,
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class KnowledgeService:
    def __init__(self, session: AsyncSession, settings: Settings, files: FilesRuntime) -> None:
        self.session = session
        self.settings = settings
        self.repo = KnowledgeRepository(session)
        self.dirs = DirectoryRepository(session)
        self.files_runtime = files

    # --- lookups ----------------------------------------------------------------
    async def readable(self, user: UserInfo, knowledge_id: str) -> Knowledge:
        row = await self.repo.readable(user, knowledge_id)
        if row is None:
            raise collection_not_found(knowledge_id)
        return row

    async def writable(self, user: UserInfo, knowledge_id: str) -> Knowledge:
        """The collection if `user` may change it, in a write transaction that has locked its
        row."""
        await begin_write(self.session)
        await self.repo.lock(knowledge_id)
        row = await self.readable(user, knowledge_id)
        if not await self.repo.writable(user, knowledge_id):
            raise no_write_access(knowledge_id)
        return row

    async def readable_file(self, user: UserInfo, file_id: str) -> dict[str, Any]:
        row = await self.repo.readable_file(user, file_id)
        if row is None:
            raise file_not_found(file_id)
        return row

    async def _response(
        self, user: UserInfo, row: Knowledge, *, with_files: bool = True
    ) -> KnowledgeResponse:
        grants = (await self.repo.grants([row.id]))[row.id]
        files = [file_meta(f) for f in (await self.repo.files(row.id))[0]] if with_files else None
        return KnowledgeResponse(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            description=row.description,
            meta=row.meta,
            access_grants=grants,
            write_access=await self.repo.writable(user, row.id),
            created_at=row.created_at,
            updated_at=row.updated_at,
            files=files,
        )

    # --- collections --------------------------------------------------------------
    async def create(self, user: UserInfo, form: KnowledgeForm) -> KnowledgeResponse:
        grants = _grants(form.access_grants)
        await begin_write(self.session)
        await check_grant_targets(self.session, group_ids_of(form.access_grants))
        ts = now()
        row = Knowledge(
            id=new_id(),
            user_id=user.id,
            name=form.name,
            description=form.description,
            meta=None,
            created_at=ts,
            updated_at=ts,
        )
        self.session.add(row)
        await self.session.flush()
        await self.repo.replace_grants(row.id, grants)
        await self.session.commit()
        return await self._response(
            user, row, with_files=False
        )  # Open WebUI answers `files: null` here

    async def list(self, user: UserInfo, page: int, limit: int = PAGE_SIZE) -> KnowledgeList:
        rows, total = await self.repo.page(user, (page - 1) * limit, limit)
        return KnowledgeList(items=await self.list_items(user, rows), total=total)

    async def list_items(
        self, user: UserInfo, rows: Sequence[tuple[Knowledge, UserInfo | None]]
    ) -> builtins.list[KnowledgeListItem]:  # `list` is also a method here
        """List entries for collections read with their owners (`/` and `/search`)."""
        ids = [k.id for k, _ in rows]
        grants, counts = await self.repo.grants(ids), await self.repo.file_counts(ids)
        writable = await self.repo.writable_ids(user, ids)
        return [
            KnowledgeListItem(
                id=k.id,
                user_id=k.user_id,
                name=k.name,
                description=k.description,
                meta=k.meta,
                access_grants=grants[k.id],
                write_access=k.id in writable,
                created_at=k.created_at,
                updated_at=k.updated_at,
                files=None,
                user=_owner(u),
                file_count=counts.get(k.id, 0),
            )
            for k, u in rows
        ]

    async def get(self, user: UserInfo, knowledge_id: str) -> KnowledgeResponse:
        return await self._response(user, await self.readable(user, knowledge_id))

    async def update(
        self, user: UserInfo, knowledge_id: str, form: KnowledgeForm
    ) -> KnowledgeResponse:
        row = await self.writable(user, knowledge_id)
        row.name, row.description, row.updated_at = form.name, form.description, now()
        if form.access_grants is not None:
            await self._replace_grants(user, row, form.access_grants)
        await self.session.commit()
        return await self._response(user, row)

    async def update_access(
        self, user: UserInfo, knowledge_id: str, grants: Sequence[AccessGrantForm]
    ) -> KnowledgeResponse:
        row = await self.writable(user, knowledge_id)
        await self._replace_grants(user, row, grants)
        row.updated_at = now()
        await self.session.commit()
        return await self._response(user, row)

    async def _replace_grants(
        self, user: UserInfo, row: Knowledge, grants: Sequence[AccessGrantForm]
    ) -> None:
        # Sharing is the owner's (or an admin's) decision, not every writer's.
        if not (user.is_admin or row.user_id == user.id):
            raise errors.Forbidden(
                f"Only the owner of knowledge base {row.id} can change who may access it"
            )
        await check_grant_targets(self.session, group_ids_of(grants))
        await self.repo.replace_grants(row.id, _grants(grants))

    async def delete(self, user: UserInfo, knowledge_id: str) -> bool:
        row = await self.writable(user, knowledge_id)
        await self.repo.replace_grants(row.id, [])
        await self.session.delete(
            row
        )  # links go with it (ON DELETE CASCADE); files stay, as in Open WebUI
        await self.session.commit()
        return True

    # --- files in a collection ---------------------------------------------------------
    async def _check_addable(self, user: UserInfo, knowledge_id: str, file_id: str) -> None:
        file = await self.readable_file(user, file_id)
        if not await self.repo.writable_file(user, file_id):
            # Reading a file through a shared collection does not let you share it further.
            raise errors.Forbidden(
                f"You do not have write access to file {file_id}, "
                "so you cannot add it to a collection"
            )
        if file["status"] == FAILED:
            raise errors.BadRequest(
                f"File {file_id} failed processing: {file.get('error') or 'unknown error'}"
            )
        if file["status"] == STORED:
            # Stored with process=false: nothing will ever index it (Open WebUI: 400 "not
            # processed").
            raise errors.BadRequest(
                f"File {file_id} has not been processed (it was uploaded with process=false), "
                "so it has no content to search. Index it with POST "
                "/api/v1/retrieval/process/file "
                f'{{"file_id": "{file_id}", "collection_name": "{knowledge_id}"}}, '
                "which also adds it here."
            )
        if not await self.repo.would_serve(knowledge_id, file_id):
            raise errors.Forbidden(
                f"File {file_id} would not be readable in knowledge base {knowledge_id}: "
                "a collection shares a file only while its owner, or a user or group member it "
                "grants write access by name, may write that file"
            )
        # A file still processing has no hash yet: it is linked now and becomes searchable when its
        # chunks commit; duplicates among such files are removed at query time (same hash + offset).
        if file["hash"] and await self.repo.same_hash_linked(knowledge_id, file["hash"], file_id):
            raise errors.BadRequest(errors.DUPLICATE_CONTENT)

    async def _commit_links(self) -> None:
        try:
            await self.session.commit()
        except IntegrityError as exc:  # the file was deleted while being linked
            await self.session.rollback()
            raise errors.NotFound(
                "A file was deleted while it was being added; nothing was changed"
            ) from exc

    async def _check_directory(self, knowledge_id: str, directory_id: str | None) -> None:
        if directory_id is not None and not await self.dirs.get(knowledge_id, directory_id):
            raise directory_not_found(directory_id, knowledge_id)

    async def add_file(
        self, user: UserInfo, knowledge_id: str, file_id: str, directory_id: str | None = None
    ) -> KnowledgeResponse:
        row = await self.writable(user, knowledge_id)
        await self._check_addable(user, knowledge_id, file_id)
        await self._check_directory(knowledge_id, directory_id)
        if not await self.repo.is_linked(knowledge_id, file_id):
            await self.repo.link(knowledge_id, file_id, directory_id)
            row.updated_at = now()
            await self._commit_links()
        return await self._response(user, row)

    async def add_files(
        self,
        user: UserInfo,
        knowledge_id: str,
        file_ids: Sequence[str],
        directories: Mapping[str, str | None] | None = None,
    ) -> KnowledgeBatchResponse:
        """Link each file (into its folder in `directories`, by file id; else the root)."""
        row = await self.writable(user, knowledge_id)
        failures: list[str] = []
        for file_id in dict.fromkeys(file_ids):
            if await self.repo.is_linked(knowledge_id, file_id):
                continue
            directory_id = (directories or {}).get(file_id)
            try:
                await self._check_addable(user, knowledge_id, file_id)
                await self._check_directory(knowledge_id, directory_id)
            except errors.WaylineError as exc:
                failures.append(f"{file_id}: {exc.detail}")
                continue
            try:
                async with (
                    self.session.begin_nested()
                ):  # so the next file's duplicate check sees this one
                    await self.repo.link(knowledge_id, file_id, directory_id)
            except IntegrityError:  # deleted meanwhile (PostgreSQL; SQLite holds the write lock)
                failures.append(f"{file_id}: {file_not_found(file_id).detail}")
        row.updated_at = now()
        await self._commit_links()
        base = await self._response(user, row)
        warnings = (
            BatchWarnings(message="Some files failed to process", errors=failures)
            if failures
            else None
        )
        return KnowledgeBatchResponse(**base.model_dump(), warnings=warnings)

    async def update_file(
        self, user: UserInfo, knowledge_id: str, file_id: str
    ) -> KnowledgeResponse:
        # Links share the file's chunks: a re-indexed file is already current in every collection.
        row = await self.writable(user, knowledge_id)
        await self.readable_file(user, file_id)
        if not await self.repo.is_linked(knowledge_id, file_id):
            raise errors.NotFound(f"File {file_id} is not in knowledge base {knowledge_id}")
        await self.session.commit()
        return await self._response(user, row)

    async def remove_file(
        self, user: UserInfo, knowledge_id: str, file_id: str, delete_file: bool | None
    ) -> KnowledgeResponse:
        row = await self.writable(user, knowledge_id)
        if not await self.repo.is_linked(knowledge_id, file_id):
            raise errors.NotFound(f"File {file_id} is not in knowledge base {knowledge_id}")
        await self.repo.unlink(knowledge_id, [file_id])
        row.updated_at = now()
        await self.finish_unlink(user, [file_id], delete_file)
        return await self._response(user, row)

    async def reset(
        self, user: UserInfo, knowledge_id: str, include_directories: bool = True
    ) -> KnowledgeResponse:
        """Empty the collection; its folders go too unless `include_directories` is false."""
        row = await self.writable(user, knowledge_id)
        file_ids = await self.repo.linked_ids(knowledge_id)
        await self.repo.unlink(knowledge_id)
        if include_directories:
            await self.dirs.delete_all(knowledge_id)
        row.updated_at = now()
        await self.finish_unlink(user, file_ids, None)
        return await self._response(user, row)

    async def finish_unlink(
        self, user: UserInfo, file_ids: Sequence[str], requested: bool | None
    ) -> None:
        """Commit the unlinking, deleting the files too (in the same transaction) when asked or
        when retention is off — only files the caller owns (any, for an admin): shared ones just
        leave."""
        deletes = (
            (not self.settings.ENABLE_KNOWLEDGE_FILE_RETENTION) if requested is None else requested
        )
        owned = await FileRepository(self.session).owned_ids(user, file_ids) if deletes else []
        if owned:
            await self.files_runtime.delete_files(self.session, owned)  # commits
        else:
            await self.session.commit()
