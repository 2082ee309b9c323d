"""Open WebUI's upload auto-link: `POST /api/v1/files/` with `metadata.knowledge_id` (and
`directory_id`) adds the file to that collection, as `oikb` and Open WebUI's own UI expect.

This is the knowledge side of `files.hooks.UploadHook`:
- `check`, before the bytes are stored: the caller must be able to write the collection (404 if
  they cannot read it, 403 if they cannot change it), and the folder must be one of its own. A
  refused upload stores nothing.
- `stored`, in the transaction that inserts the file row: the same checks again (a grant revoked
  meanwhile refuses it too), then a `knowledge_upload` row records where the file goes.
- `processed`, in the transaction that marks the file `completed`: the link is made there, as
  Open WebUI links only after processing; a file whose processing fails is never listed in the
  collection, and `/{id}/files/pending` shows the uploads still on their way. The uploader's
  right to write is checked once more; an upload that lost it is not linked (and logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.storable import ID_MAX
from wayline.knowledge.directory_repository import DirectoryRepository
from wayline.knowledge.repository import KnowledgeRepository
from wayline.knowledge.schemas import FileMeta
from wayline.knowledge.service import collection_not_found, directory_not_found, file_meta
from wayline.knowledge.upload_repository import UploadRepository
from wayline.users.group_repository import GroupRepository
from wayline.users.repository import UserRepository
from wayline.users.schemas import UserInfo

log = logging.getLogger("wayline.knowledge")

PENDING_POLL_SECONDS = 3.0  # Open WebUI's interval for `files/pending?stream=true`
PENDING_STREAM_SECONDS = 3600


@dataclass(frozen=True)
class Target:
    knowledge_id: str
    directory_id: str | None


def _id_field(metadata: dict[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > ID_MAX:
        raise errors.Unprocessable(
            f"Invalid metadata: '{key}' must be a string of at most {ID_MAX} characters"
        )
    return value


def target_of(metadata: dict[str, Any]) -> Target | None:
    """Where an upload's metadata asks the file to go, if anywhere."""
    knowledge_id = _id_field(metadata, "knowledge_id")
    if knowledge_id is None:
        return None
    return Target(knowledge_id, _id_field(metadata, "directory_id"))


async def authorize(session: AsyncSession, user: UserInfo, target: Target) -> None:
    """Refuse an upload into a collection `user` may not fill, or into a folder not its own."""
    repo, knowledge_id = KnowledgeRepository(session), target.knowledge_id
    if await repo.readable(user, knowledge_id) is None:
        raise collection_not_found(knowledge_id)
    if not await repo.writable(user, knowledge_id):
        raise errors.Forbidden(
            f"You do not have write access to knowledge base {knowledge_id}, "
            "so you cannot upload files into it"
        )
    if not await repo.would_serve_owner(knowledge_id, user.id):
        raise errors.Forbidden(
            f"Your files would not be readable in knowledge base {knowledge_id}: a collection "
            "shares a file only while its owner, or a user or group member it grants write "
            "access by name, may write that file"
        )
    folder = target.directory_id
    if folder is not None and await DirectoryRepository(session).get(knowledge_id, folder) is None:
        raise directory_not_found(folder, knowledge_id)


class KnowledgeUploads:
    """`files.hooks.UploadHook` for collections (attached in `knowledge.component`)."""

    async def check(self, session: AsyncSession, user: UserInfo, metadata: dict[str, Any]) -> None:
        target = target_of(metadata)
        if target is not None:
            await authorize(session, user, target)

    async def stored(
        self, session: AsyncSession, user: UserInfo, file_id: str, metadata: dict[str, Any]
    ) -> None:
        target = target_of(metadata)
        if target is None:
            return
        await KnowledgeRepository(session).lock(target.knowledge_id)
        await authorize(session, user, target)
        UploadRepository(session).stage(file_id, target.knowledge_id, target.directory_id, user.id)

    async def processed(
        self, session: AsyncSession, file_id: str, metadata: dict[str, Any]
    ) -> None:
        if not metadata.get("knowledge_id"):
            return  # most files: no query at all
        staged = await UploadRepository(session).take(file_id)
        if staged is None:
            return  # linked already (processed again), or the collection is gone
        repo, knowledge_id = KnowledgeRepository(session), staged.knowledge_id
        uploader = await _account(session, staged.user_id)
        if (
            uploader is None
            or not await repo.writable(uploader, knowledge_id)
            or not await repo.would_serve(knowledge_id, file_id)
        ):
            log.warning(
                "file %s not added to knowledge base %s: its uploader may no longer write it",
                file_id,
                knowledge_id,
            )
            return
        if await repo.is_linked(knowledge_id, file_id):
            return
        try:
            # A savepoint: a collection deleted this instant must not fail the file's processing.
            async with session.begin_nested():
                await repo.link(knowledge_id, file_id, staged.directory_id)
        except IntegrityError:
            log.info("knowledge base %s went away before file %s joined it", knowledge_id, file_id)


async def _account(session: AsyncSession, user_id: str) -> UserInfo | None:
    user = (await UserRepository(session).infos([user_id])).get(user_id)
    if user is None:
        return None
    return replace(user, group_ids=await GroupRepository(session).effective_group_ids(user_id))


async def pending(session: AsyncSession, user: UserInfo, knowledge_id: str) -> list[FileMeta]:
    """The uploads into the collection still waiting for or in processing: the caller's own
    (an admin: everyone's), once the caller may read the collection."""
    if await KnowledgeRepository(session).readable(user, knowledge_id) is None:
        raise collection_not_found(knowledge_id)
    rows = await UploadRepository(session).pending(knowledge_id, None if user.is_admin else user.id)
    return [file_meta(row) for row in rows]


async def pending_events(
    sessions: Callable[[], Any], user: UserInfo, knowledge_id: str
) -> AsyncIterator[str]:
    """`files/pending?stream=true`: the pending list as a server-sent event every few seconds,
    ending after the first empty one (or after an hour). A session per poll: the stream holds
    no connection while it waits."""
    for _ in range(int(PENDING_STREAM_SECONDS / PENDING_POLL_SECONDS)):
        async with sessions() as session:
            try:
                files = await pending(session, user, knowledge_id)
            except errors.NotFound:
                return  # the collection was deleted (or unshared) meanwhile
        yield f"data: {json.dumps([f.model_dump() for f in files])}\n\n"
        if not files:
            return
        await asyncio.sleep(PENDING_POLL_SECONDS)
