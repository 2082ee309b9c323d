"""Token counts for calls whose upstream gave none (`estimated: true` in the ledger).

No chat model's tokenizer ships with Wayline. The one that does (`embeddings/models`) is
all-MiniLM's WordPiece: a different model's vocabulary, whose counts differ from a chat model's
by tens of percent, and tokenizing with it costs tens of microseconds per kilobyte on the request
path. So every estimate uses one documented rule instead, OpenAI's: a token is about four
characters of English text, rounded up (`ceil(chars / 4)`). Token-id inputs (an embedding's
`input: [1, 2, 3]`) count one token per id, exactly.
"""

from __future__ import annotations

import re
from typing import Any

CHARS_PER_TOKEN = 4

# The generated text in an answer's bytes, OpenAI-shaped or Ollama's (JSON strings, escapes
# counted as written): read without parsing the answer, chunk by chunk.
_TEXT = re.compile(
    rb'"(?:content|reasoning_content|thinking|arguments|response|text)"\s*:\s*'
    rb'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a JSON string, escapes included (unrolled: fast)
)


def tokens_for(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def answer_chars(raw: bytes) -> int:
    """Characters of generated text in (part of) an answer."""
    return sum(len(found) for found in _TEXT.findall(raw))


def _chars(value: Any) -> int:
    """Characters of text in a message's content: a string, or a list of parts with `text`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_chars(part.get("text") if isinstance(part, dict) else part) for part in value)
    return 0


def request_tokens(body: dict[str, Any]) -> int:
    """The estimated prompt of a chat (`messages`), completion (`prompt`, `system`) or embedding
    (`input`) request."""
    messages = body.get("messages")
    if isinstance(messages, list):
        chars = sum(_chars(m.get("content")) for m in messages if isinstance(m, dict))
        return tokens_for(chars)
    if "input" in body:
        return input_tokens(body["input"])
    return tokens_for(_chars(body.get("prompt")) + _chars(body.get("system")))


def input_tokens(value: Any) -> int:
    """An embedding input: text, token ids, or a list of either."""
    if isinstance(value, str):
        return tokens_for(len(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return 1
    if isinstance(value, list):
        return sum(input_tokens(item) for item in value)
    return 0
