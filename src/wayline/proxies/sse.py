"""Server-sent events both ways: reading the `chat.completion.chunk` stream a provider answers
with, and writing named events (`event: <type>`), which the Responses and Messages APIs use.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import orjson


def named_event(event: str, data: Any) -> bytes:
    """One SSE record with an `event:` line: how OpenAI's Responses API and Anthropic's
    Messages API frame every event (the SDKs dispatch on it)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class SSEReader:
    """Incremental SSE parser: bytes in any split, `data` payloads out (one per record, the
    lines of a multi-line `data` joined by a newline). Comments and other fields are skipped."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._buffer += chunk
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return
            line = self._buffer[:end].rstrip(b"\r")
            self._buffer = self._buffer[end + 1 :]
            if not line:
                if self._data:
                    yield b"\n".join(self._data)
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)

    def close(self) -> Iterator[bytes]:
        """A last record the stream did not end with a blank line."""
        yield from self.feed(b"\n\n" if self._buffer or self._data else b"")


async def data_records(body: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    """The `data` payloads of an SSE byte stream (a StreamingResponse's `body_iterator`)."""
    reader = SSEReader()
    async for chunk in body:
        for record in reader.feed(chunk.encode() if isinstance(chunk, str) else chunk):
            yield record
    for record in reader.close():
        yield record
