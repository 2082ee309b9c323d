"""The seam for retrieval-augmented chat: the retrieval component provides an object with this
shape under `CHAT_AUGMENTER`; the chat pipeline calls it before dispatch when the request
carries a non-empty `files` list."""

from __future__ import annotations

from typing import Any, Protocol

from wayline.core.state import Slot
from wayline.users.schemas import UserInfo


class ChatAugmenter(Protocol):
    async def augment(
        self, user: UserInfo, body: dict[str, Any], files: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Inject context into `body["messages"]` in place; return Open WebUI `sources` dicts.

        Raises WaylineErrors (e.g. NotFound, Forbidden) for ids the user cannot read."""
        ...


CHAT_AUGMENTER: Slot[ChatAugmenter] = Slot("chat augmenter")
