"""A chat call to a provider, measured for the usage ledger (`usage/observe.py`).

A streamed answer carries token counts only when asked for: a provider that speaks to an
OpenAI-compatible upstream (`asks_stream_usage`) gets `stream_options.include_usage` added to
the body when the client did not ask, and the extra chunk is taken out again on the way back.
Ollama's answers carry their counts anyway; a pipe's are estimated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from wayline.core.usage import Meter
from wayline.providers.base import ChatCall, Provider
from wayline.providers.entries import ModelEntry
from wayline.usage.estimate import request_tokens
from wayline.usage.observe import OPENAI, metered_answer


def wants_stream_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def ask_stream_usage(body: dict[str, Any]) -> bool:
    """Add `stream_options.include_usage` to a stream request; False when the client asked."""
    if wants_stream_usage(body):
        return False
    options = body.get("stream_options")
    options = options if isinstance(options, dict) else {}
    body["stream_options"] = {**options, "include_usage": True}
    return True


def connection_of(entry: ModelEntry) -> str:
    """The connection a call to `entry` goes to, as far as the entry knows (a provider that picks
    among several says which on `call.meter`)."""
    if entry.connection is not None:
        return entry.connection.name
    return f"function {entry.function_id}" if entry.function_id else ""


async def answer_metered(
    provider: Provider,
    call: ChatCall,
    meter: Meter,
    send: Callable[[ChatCall], Awaitable[Response]] | None = None,
) -> Response:
    """`provider`'s answer to `call` (through `send`, e.g. the router over its deployments), with
    `meter` finished when the answer has ended."""
    call.meter = meter
    strip = False
    if call.stream and getattr(provider, "asks_stream_usage", False):
        strip = ask_stream_usage(call.body)
        if strip:
            call.raw = None  # the body changed: it is serialised again
    return await metered_answer(
        meter,
        (send or provider.chat)(call),
        wire=OPENAI,
        prompt_tokens=lambda: request_tokens(call.body),
        strip=strip,
    )
