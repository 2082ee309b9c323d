"""The seam through which a higher domain takes part in an upload, without files importing it.

Knowledge implements `UploadHook` to link an upload to the collection named in its
`metadata.knowledge_id` (Open WebUI's auto-link) and plugs it in with `FilesRuntime.attach`.
Each call runs in the files domain's own transaction, so the hook's rows commit (or roll back)
with the file's: an upload the hook refuses leaves nothing stored, and a link is made by the
same transaction that marks the file `completed`.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.users.schemas import UserInfo


class UploadHook(Protocol):
    async def check(self, session: AsyncSession, user: UserInfo, metadata: dict[str, Any]) -> None:
        """Before the bytes are stored: raise a `WaylineError` to refuse the upload (a read)."""

    async def stored(
        self, session: AsyncSession, user: UserInfo, file_id: str, metadata: dict[str, Any]
    ) -> None:
        """In the write transaction that inserts the file row, after it: raising rolls the
        upload back (and its bytes are deleted)."""

    async def processed(
        self, session: AsyncSession, file_id: str, metadata: dict[str, Any]
    ) -> None:
        """In the write transaction that marks the file `completed` with its chunks. It must not
        fail for a reason of its own (it would fail the file's processing): what it cannot do,
        it skips."""
