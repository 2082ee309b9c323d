"""Reading an SSE body in tests: the `data:` payloads, JSON-decoded, with `[DONE]` kept as a
string."""

from __future__ import annotations

from typing import Any

import orjson


def events(text: str) -> list[Any]:
    out: list[Any] = []
    for block in text.split("\n\n"):
        block = block.strip()
        if block.startswith("data: "):
            payload = block[6:]
            out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out
