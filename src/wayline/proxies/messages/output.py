"""A Chat Completions answer as an Anthropic Messages answer (pure; see `service.py`).

Non-streamed: one `message` (`text` and `tool_use` blocks, `stop_reason`, usage). Streamed:
Anthropic's events — `message_start`, per block `content_block_start`, `content_block_delta`
(`text_delta` / `input_json_delta`), `content_block_stop`, then `message_delta` (stop reason
and usage) and `message_stop`. A failure mid-stream ends it with an `error` event, which the
SDKs raise.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from wayline.core import errors
from wayline.proxies.chat_result import token_counts
from wayline.proxies.sse import named_event

# Chat Completions `finish_reason` -> Messages `stop_reason`.
_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _stop_reason(finish: Any) -> str:
    return _STOP.get(str(finish), "end_turn")


def _input(arguments: Any) -> Any:
    if not isinstance(arguments, str):
        return arguments if isinstance(arguments, dict) else {}
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def from_completion(model: str, completion: dict[str, Any]) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": str(message["content"])})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{uuid.uuid4().hex}",
                "name": fn.get("name") or "",
                "input": _input(fn.get("arguments")),
            }
        )
    given, produced = token_counts(completion.get("usage"))
    return {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": {"input_tokens": given, "output_tokens": produced},
    }


class MessageStream:
    """Chat chunks in, Messages events out (as SSE bytes)."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._index = -1  # the open content block, or the last one once closed
        self._open: str | None = None  # "text" or the chat index of the open tool call
        self._usage: Any = None
        self._finish: Any = None

    @staticmethod
    def _event(kind: str, **fields: Any) -> bytes:
        return named_event(kind, {"type": kind, **fields})

    def start(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": _message_id(),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [self._event("message_start", message=message)]

    def _begin(self, key: str, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._index += 1
        self._open = key
        return [*out, self._event("content_block_start", index=self._index, content_block=block)]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [self._event("content_block_stop", index=self._index)]

    def feed(self, chunk: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self._open != "text":
                    out += self._begin("text", {"type": "text", "text": ""})
                text_delta = {"type": "text_delta", "text": str(delta["content"])}
                out.append(self._event("content_block_delta", index=self._index, delta=text_delta))
            for call in delta.get("tool_calls") or []:
                out += self._call(call)
            self._finish = choice.get("finish_reason") or self._finish
        return out

    def _call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        key = f"call:{call.get('index', 0)}"
        fn = call.get("function") or {}
        if self._open != key:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{uuid.uuid4().hex}",
                "name": fn.get("name") or "",
                "input": {},
            }
            out += self._begin(key, block)
        if fn.get("arguments"):
            json_delta = {"type": "input_json_delta", "partial_json": str(fn["arguments"])}
            out.append(self._event("content_block_delta", index=self._index, delta=json_delta))
        return out

    def finish(self) -> list[bytes]:
        given, produced = token_counts(self._usage)
        delta = {"stop_reason": _stop_reason(self._finish), "stop_sequence": None}
        return [
            *self._close(),
            self._event(
                "message_delta",
                delta=delta,
                usage={"input_tokens": given, "output_tokens": produced},
            ),
            self._event("message_stop"),
        ]

    def fail(self, exc: BaseException) -> list[bytes]:
        message = str(errors.redact(getattr(exc, "detail", None) or exc))
        return [self._event("error", error={"type": "api_error", "message": message})]
