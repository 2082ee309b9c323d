"""The provider seam: one `Provider` per dialect (OpenAI-compatible, Ollama, function pipes).

A provider lists the models it serves, answers a chat (streamed or not) in OpenAI's shape,
embeds where it can and says whether it is healthy. `dialects.py` holds the one table of
providers, keyed by the `kind` their connections and model entries carry; nothing outside it
branches on a kind. A provider that serves configured connections (`uses_connections`) is
listed once per connection; one that does not (pipes) is listed once per model-list rebuild.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from starlette.requests import Request
from starlette.responses import Response

from wayline.core.settings import Settings
from wayline.core.streams import sse_event
from wayline.core.usage import Meter
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry
from wayline.users.schemas import UserInfo

# OpenAI's sampling fields: what a preset's `params` may set on an OpenAI-shaped request.
OPENAI_PARAMS = (
    "temperature",
    "top_p",
    "min_p",
    "max_tokens",
    "max_completion_tokens",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
    "seed",
    "stop",
    "logit_bias",
    "response_format",
)


@dataclass
class ChatCall:
    """A chat request made ready by the chat pipeline, for `entry`'s provider to answer."""

    entry: ModelEntry
    body: dict[str, Any]
    stream: bool
    user: UserInfo
    # The client's request, for pipes that ask for `__request__` (None from the proxies).
    request: Request | None = None
    # The client's own bytes while nothing in the body changed: forwarded as they came.
    raw: bytes | None = None
    # RAG sources to send with the answer (a first SSE event, or a `sources` field).
    sources: list[dict[str, Any]] | None = None
    # Open WebUI's request fields that are not forwarded (`files`, `features`, `params`, ...).
    extras: dict[str, Any] = field(default_factory=dict)
    # The call's usage meter (chat/metering.py): the provider says which deployment answers.
    meter: Meter | None = None


@dataclass(frozen=True)
class Health:
    ok: bool
    models: int = 0
    detail: str = ""
    latency_ms: float = 0.0


class Provider(Protocol):
    kind: ClassVar[str]
    # Open WebUI `params` that a preset (or the request's `params`) copies into the body.
    preset_params: ClassVar[tuple[str, ...]]
    uses_connections: ClassVar[bool]

    def merge(
        self, first: ModelEntry, other: ModelEntry, turns: Iterator[int]
    ) -> ModelEntry | None:
        """The entry for a name two connections of this kind list: one entry whose calls rotate
        over both (Ollama's `urls`), or None to keep the first (Open WebUI's rule)."""
        ...

    def connections(self, settings: Settings) -> list[Connection]:
        """This dialect's connections, from the settings (none for in-process providers)."""
        ...

    async def list_models(self, conn: Connection | None, timeout: float) -> list[ModelEntry]: ...

    async def chat(self, call: ChatCall) -> Response: ...

    async def embeddings(self, entry: ModelEntry, body: dict[str, Any]) -> Response: ...

    async def probe(self, conn: Connection | None, timeout: float) -> Health: ...


async def probe_by_listing(provider: Provider, conn: Connection | None, timeout: float) -> Health:
    """Healthy when the model list comes back; the list call is every dialect's cheapest read."""
    started = time.perf_counter()
    try:
        models = await provider.list_models(conn, timeout)
    except Exception as exc:
        detail = str(getattr(exc, "detail", "") or f"{type(exc).__name__}: {exc}")
        return Health(False, detail=detail, latency_ms=(time.perf_counter() - started) * 1000)
    return Health(True, models=len(models), latency_ms=(time.perf_counter() - started) * 1000)


def new_chat_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def sources_event(chat_id: str | None, model: str, sources: list[dict[str, Any]]) -> bytes:
    """The sources, as a valid (empty-choices) `chat.completion.chunk` so strict clients accept
    it."""
    return sse_event(
        {
            "id": chat_id or new_chat_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "sources": sources,
        }
    )


def with_sources(data: Any, sources: list[dict[str, Any]] | None) -> Any:
    return {"sources": sources, **data} if sources is not None and isinstance(data, dict) else data
