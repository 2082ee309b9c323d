"""Answering another API (Responses, Messages) through a model's Chat Completions provider.

The request, once translated to Chat Completions, goes to the model's provider as
`/api/chat/completions` would send it (a preset's stored params applied, every provider
kind: OpenAI-compatible, Ollama, in-process pipes); the answer is read back and shaped by a
`Translator` of the target API, a stream event by event as it arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from starlette.responses import Response, StreamingResponse

from wayline.chat.metering import answer_metered
from wayline.chat.params import apply_params
from wayline.core.streams import STREAM_FAILURES, event_stream
from wayline.core.usage import Meter
from wayline.providers.base import ChatCall
from wayline.providers.entries import ModelEntry
from wayline.providers.registry import ModelRegistry
from wayline.proxies.chat_result import chat_chunks
from wayline.users.schemas import UserInfo


class Translator(Protocol):
    """Chat chunks in, the target API's SSE records out."""

    def start(self) -> list[bytes]: ...

    def feed(self, chunk: dict[str, Any]) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...

    def fail(self, exc: BaseException) -> list[bytes]: ...


async def chat_answer(
    registry: ModelRegistry,
    entry: ModelEntry,
    body: dict[str, Any],
    user: UserInfo,
    meter: Meter | None = None,
) -> Response:
    """The provider's answer to the Chat Completions `body` for `entry` (measured by `meter`
    for the usage ledger: the translation asks for the stream's usage itself)."""
    provider = registry.providers.of(entry.kind)
    if entry.params:
        # The caller's `stream` stands: the translation was built for it.
        params = {k: v for k, v in entry.params.items() if k != "stream_response"}
        apply_params(body, params, provider.preset_params)
    call = ChatCall(entry=entry, body=body, stream=bool(body.get("stream")), user=user)
    if meter is None:
        return await provider.chat(call)
    return await answer_metered(provider, call, meter)


async def _events(answer: Response, translator: Translator) -> AsyncIterator[bytes]:
    for record in translator.start():
        yield record
    try:
        async for chunk in chat_chunks(answer):
            for record in translator.feed(chunk):
                yield record
    except STREAM_FAILURES as exc:
        for record in translator.fail(exc):
            yield record
        return
    for record in translator.finish():
        yield record


def translated_stream(answer: Response, translator: Translator) -> StreamingResponse:
    return event_stream(_events(answer, translator))
