"""Which `/ollama` routes are model calls for the usage ledger, and how their answers count.

Ollama's own routes answer with `prompt_eval_count` and `eval_count` (the last NDJSON line of a
stream); its OpenAI-compatible `/v1` routes with OpenAI's `usage`, which a stream carries only
when asked: Wayline asks (`stream_options.include_usage`) and strips the extra chunk again when
the client had not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wayline.chat.metering import ask_stream_usage
from wayline.core.usage import CHAT, EMBEDDING
from wayline.usage.observe import OLLAMA, OPENAI


@dataclass(frozen=True)
class Metering:
    kind: str
    wire: str
    strip: bool = False


# Completions (`/api/generate`, `/v1/completions`) are recorded as chat: generated text.
_ROUTES = {
    "/api/chat": Metering(CHAT, OLLAMA),
    "/api/generate": Metering(CHAT, OLLAMA),
    "/api/embed": Metering(EMBEDDING, OLLAMA),
    "/api/embeddings": Metering(EMBEDDING, OLLAMA),
    "/v1/chat/completions": Metering(CHAT, OPENAI),
    "/v1/completions": Metering(CHAT, OPENAI),
    "/v1/embeddings": Metering(EMBEDDING, OPENAI),
}


def metering_of(path: str, body: dict[str, Any], stream: bool) -> Metering | None:
    """How a call to `path` is metered (None: it is not a model call); an OpenAI-style stream's
    `body` gets `stream_options.include_usage` when the client did not ask for it."""
    metering = _ROUTES.get(path)
    if metering is None or not (stream and metering.wire == OPENAI):
        return metering
    return Metering(metering.kind, metering.wire, strip=ask_stream_usage(body))
