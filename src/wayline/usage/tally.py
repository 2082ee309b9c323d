"""Reading the token counts out of an answer's bytes as they pass, without buffering the answer.

Two stream formats: OpenAI's SSE (`SseTally`: the `usage` object of a chunk) and Ollama's NDJSON
(`NdjsonTally`: the final line's `prompt_eval_count` and `eval_count`). A tally is fed whole
records (events or lines; `observe.py` holds back a record split across reads) and returns the
bytes to send on. Only records that mention usage or an error are parsed; the rest pass as they
came, after one regular-expression scan for generated text (the estimate when no counts come).

`SseTally(strip=True)` is for a stream whose usage Wayline asked for and the client did not: it
drops the extra usage-only chunk and the `"usage": null` every other chunk then carries, so the
client sees what it would have without the request.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from wayline.usage.estimate import answer_chars

STREAM_FAILED = 502  # an error record ended a stream whose status line had already gone out

_USAGE = b'"usage"'
_ERROR = b'{"error"'
# `"usage": null` as a member of a chunk, with the comma that separates it from a neighbour.
_NULL_USAGE = re.compile(rb',\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,\s*')
# OpenAI's names (chat, embeddings), then the Responses/images/audio ones.
_PROMPT = re.compile(rb'"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)')
_COMPLETION = re.compile(rb'"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)')
_NUMBER = re.compile(rb"\s*:\s*(\d+)")
_USAGE_WINDOW = 2048  # bytes after `"usage"` that hold its counts (nested details included)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_counts(usage: dict[str, Any]) -> tuple[int, int]:
    """(prompt, completion) from an OpenAI-shaped `usage` object (either naming)."""
    prompt = _int(usage.get("prompt_tokens")) or _int(usage.get("input_tokens"))
    completion = _int(usage.get("completion_tokens")) or _int(usage.get("output_tokens"))
    return prompt, completion


def json_counts(body: bytes, ollama: bool) -> tuple[int, int] | None:
    """The counts in a whole JSON answer, found by key rather than by parsing it (embeddings can
    be megabytes): OpenAI's last `usage` object, or Ollama's `prompt_eval_count`/`eval_count`."""
    if ollama:
        prompt = _number_after(body, b'"prompt_eval_count"')
        completion = _number_after(body, b'"eval_count"')
        if prompt is None and completion is None:
            return None
        return prompt or 0, completion or 0
    at = body.rfind(_USAGE)
    if at < 0:
        return None
    window = body[at : at + _USAGE_WINDOW]
    prompt_found, completion_found = _PROMPT.search(window), _COMPLETION.search(window)
    if prompt_found is None and completion_found is None:
        return None
    return (
        int(prompt_found.group(1)) if prompt_found else 0,
        int(completion_found.group(1)) if completion_found else 0,
    )


def _number_after(body: bytes, key: bytes) -> int | None:
    at = body.rfind(key)
    if at < 0:
        return None
    found = _NUMBER.match(body, at + len(key))
    return int(found.group(1)) if found else None


class Tally:
    """What a stream said about its usage, so far."""

    separator = b"\n"

    def __init__(self) -> None:
        self.counts: tuple[int, int] | None = None
        self.text_chars = 0
        self.failed = False

    def framed(self, data: bytes) -> bool:
        """Whether the record separator is known, after seeing the start of the stream."""
        return True

    def feed(self, block: bytes) -> bytes:
        raise NotImplementedError


class SseTally(Tally):
    separator = b"\n\n"

    def __init__(self, strip: bool) -> None:
        super().__init__()
        self.strip = strip
        # `"usage": null` on the answer's chunks: the upstream honours `include_usage`, its counts
        # will come, and the generated text need not be measured for an estimate.
        self.counts_coming = False

    def framed(self, data: bytes) -> bool:
        if b"\r\n\r\n" in data:  # events separated by CRLF CRLF, as SSE allows
            self.separator = b"\r\n\r\n"
            return True
        return b"\n\n" in data

    def feed(self, block: bytes) -> bytes:
        if not self.counts_coming:
            self.text_chars += answer_chars(block)
        rest = block
        if _USAGE in block:
            # The usual forms of the null member, compact and spaced, without a regex pass.
            rest = block.replace(b',"usage":null', b"").replace(b', "usage": null', b"")
            if len(rest) != len(block):
                self.counts_coming = True
                if self.strip:
                    block = rest
        if _USAGE not in rest and _ERROR not in rest:
            return block
        sep = self.separator
        out = []
        events = block.split(sep)
        for i, event in enumerate(events):
            last = i == len(events) - 1
            if last and not event:
                break
            kept = self._event(event) if _USAGE in event or _ERROR in event else event
            if kept is not None:
                out.append(kept if last else kept + sep)
        return b"".join(out)

    def _event(self, event: bytes) -> bytes | None:
        """The event to send on (None: drop it)."""
        if _ERROR in event:
            self.failed = True
        if self.strip:
            event = _NULL_USAGE.sub(b"", event)  # the rarer forms (first member, odd spacing)
            if _USAGE not in event:
                return event
        data = _sse_data(event)
        usage = data.get("usage") if isinstance(data, dict) else None
        counted = _usage_in(data)
        if counted is not None:
            # Counts may come in parts (the Messages API: input at the start, output at the end).
            prompt, completion = usage_counts(counted)
            before = self.counts or (0, 0)
            self.counts = (prompt or before[0], completion or before[1])
        if not self.strip or not isinstance(data, dict) or usage is None:
            return event
        if not data.get("choices"):
            return None  # the usage-only chunk we asked for
        del data["usage"]  # a server that put the counts on a chunk of the answer itself
        return b"data: " + orjson.dumps(data)


def _usage_in(data: Any) -> dict[str, Any] | None:
    """An event's counts: Chat Completions' `usage`, or nested as the Responses API
    (`response.completed`) and the Messages API (`message_start`) put them."""
    if not isinstance(data, dict):
        return None
    for holder in (data, data.get("response"), data.get("message")):
        usage = holder.get("usage") if isinstance(holder, dict) else None
        if isinstance(usage, dict):
            return usage
    return None


def _sse_data(event: bytes) -> Any:
    lines = [line[5:].lstrip() for line in event.splitlines() if line.startswith(b"data:")]
    try:
        return orjson.loads(b"\n".join(lines)) if lines else None
    except orjson.JSONDecodeError:
        return None


class NdjsonTally(Tally):
    """Ollama's native stream: passed on untouched; the `done` line carries the counts."""

    def feed(self, block: bytes) -> bytes:
        self.text_chars += answer_chars(block)
        if b'eval_count"' in block or _ERROR in block:
            for line in block.split(b"\n"):
                if _ERROR in line:
                    self.failed = True
                elif b'eval_count"' in line:
                    self.counts = json_counts(line, ollama=True)
        return block
