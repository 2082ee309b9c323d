"""Finishing a call's meter from its answer: at once for an answer in one piece, at the end of
the stream for a stream (whose bytes pass through a `Tally` on their way to the client).

Counts come from the upstream when it gave them; otherwise they are estimated (`estimate.py`)
from the request and the generated text, and the record says `estimated`. The status is the
answer's; a stream that ended with an error record counts as 502, one whose client went away
before the end as 499.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response, StreamingResponse

from wayline.core.usage import CHAT, Meter, status_of
from wayline.usage.estimate import answer_chars, tokens_for
from wayline.usage.tally import (
    STREAM_FAILED,
    NdjsonTally,
    SseTally,
    Tally,
    json_counts,
    usage_counts,
)

# The two wire formats an answer can come in (the shape of its usage).
OPENAI, OLLAMA = "openai", "ollama"


async def metered_answer(
    meter: Meter,
    answer: Awaitable[Response],
    *,
    wire: str,
    prompt_tokens: Callable[[], int],
    strip: bool = False,
) -> Response:
    """`answer`, awaited, with `meter` finished from it (or from its failure)."""
    try:
        response = await answer
    except BaseException as exc:
        meter.finish(status_of(exc))
        raise
    return metered(response, meter, wire=wire, prompt_tokens=prompt_tokens, strip=strip)


def metered(
    response: Response,
    meter: Meter,
    *,
    wire: str,
    prompt_tokens: Callable[[], int],
    strip: bool = False,
) -> Response:
    """`response`, with `meter` finished from it now (a body in one piece) or when its stream
    ends. `prompt_tokens` estimates the prompt, called only when the upstream gave no counts."""
    if isinstance(response, StreamingResponse):
        tally: Tally = NdjsonTally() if wire == OLLAMA else SseTally(strip)
        response.body_iterator = _tallied(response.body_iterator, meter, tally, prompt_tokens)
        return response
    body = bytes(response.body)
    counts = json_counts(body, wire == OLLAMA)
    if counts is not None:
        meter.count(*counts, estimated=False)
    else:
        completion = tokens_for(answer_chars(body)) if meter.kind == CHAT else 0
        meter.count(prompt_tokens(), completion, estimated=True)
    meter.finish(response.status_code)
    return response


async def _tallied(
    chunks: AsyncIterable[Any], meter: Meter, tally: Tally, prompt_tokens: Callable[[], int]
) -> AsyncIterator[bytes]:
    status = 200
    held = b""  # the start of a record whose end has not arrived yet
    framed = False
    try:
        async for chunk in chunks:
            data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            if meter.first_token_at is None:
                meter.first_token()
            if held:
                data, held = held + data, b""
            framed = framed or tally.framed(data)
            end = data.rfind(tally.separator) if framed else -1
            if end < 0:
                held = data
                continue
            cut = end + len(tally.separator)
            data, held = data[:cut], data[cut:]
            out = tally.feed(data)
            if out:
                yield out
        if held:  # a last record without its terminator: sent as it came
            yield tally.feed(held)
        status = STREAM_FAILED if tally.failed else 200
    except BaseException as exc:
        status = status_of(exc)
        raise
    finally:
        _settle(meter, tally, status, prompt_tokens)
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def _settle(meter: Meter, tally: Tally, status: int, prompt_tokens: Callable[[], int]) -> None:
    if tally.counts is not None:
        meter.count(*tally.counts, estimated=False)
    else:
        meter.count(prompt_tokens(), tokens_for(tally.text_chars), estimated=True)
    meter.finish(status)


def count_transcript(meter: Meter, result: dict[str, Any]) -> None:
    """A transcription's counts: the engine's token `usage` where it gave one (gpt-4o-transcribe),
    else the transcript's text estimated as completion tokens (whisper answers with seconds)."""
    usage = result.get("usage")
    counts = usage_counts(usage) if isinstance(usage, dict) else (0, 0)
    if any(counts):
        meter.count(*counts, estimated=False)
    else:
        meter.count(0, tokens_for(len(str(result.get("text") or ""))), estimated=True)
