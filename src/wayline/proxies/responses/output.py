"""A Chat Completions answer as a Responses API answer (pure; see `service.py`).

Non-streamed: one `response` object (message and `function_call` output items, usage as
`input_tokens` / `output_tokens`). Streamed: OpenAI's event sequence, each event named and
numbered (`sequence_number`): `response.created`, `response.in_progress`, per item
`response.output_item.added` … `response.output_item.done` (text through
`response.content_part.added`, `response.output_text.delta`, `response.output_text.done`,
`response.content_part.done`; calls through `response.function_call_arguments.delta` /
`.done`), then `response.completed` (or `response.incomplete` when the model hit
`max_output_tokens`) carrying the usage. A failure mid-stream ends it with `error` and
`response.failed`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from wayline.core import errors
from wayline.proxies.chat_result import token_counts
from wayline.proxies.sse import named_event


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage_of(usage: Any) -> dict[str, Any]:
    given, produced = token_counts(usage)
    usage = usage if isinstance(usage, dict) else {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": given,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": produced,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": given + produced,
    }


def _ending(finish: Any) -> tuple[str, dict[str, str] | None]:
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _call_item(call: dict[str, Any], status: str) -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "id": _id("fc"),
        "type": "function_call",
        "status": status,
        "call_id": call.get("id") or _id("call"),
        "name": fn.get("name") or "",
        "arguments": fn.get("arguments") or "",
    }


class _Response:
    """The `response` object's fields that echo the request."""

    def __init__(self, body: dict[str, Any], model: str) -> None:
        self.body = body
        self.model = model
        self.id = _id("resp")
        self.created = int(time.time())

    def object(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None,
        *,
        error: dict[str, Any] | None = None,
        incomplete: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body = self.body
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
            "store": False,
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": usage,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }


def from_completion(body: dict[str, Any], model: str, completion: dict[str, Any]) -> dict[str, Any]:
    """The `response` object for a whole `chat.completion`."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    if message.get("content"):
        output.append(
            {
                "id": _id("msg"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [_text_part(str(message["content"]))],
            }
        )
    output += [_call_item(call, "completed") for call in message.get("tool_calls") or []]
    status, incomplete = _ending(choice.get("finish_reason"))
    return _Response(body, model).object(
        status, output, usage_of(completion.get("usage")), incomplete=incomplete
    )


class ResponseStream:
    """Chat chunks in, Responses events out (as SSE bytes)."""

    def __init__(self, body: dict[str, Any], model: str) -> None:
        self._response = _Response(body, model)
        self._seq = 0
        self._output: list[dict[str, Any]] = []
        self._message: dict[str, Any] | None = None  # the open message item
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}  # chat tool-call index -> open item
        self._usage: Any = None
        self._finish: Any = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        event = named_event(kind, {"type": kind, "sequence_number": self._seq, **fields})
        self._seq += 1
        return event

    def _add(self, item: dict[str, Any]) -> list[bytes]:
        self._output.append(item)
        return [
            self._event("response.output_item.added", output_index=len(self._output) - 1, item=item)
        ]

    def start(self) -> list[bytes]:
        snapshot = self._response.object("in_progress", [], None)
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                out += self._text_delta(str(delta["content"]))
            for call in delta.get("tool_calls") or []:
                out += self._call_delta(call)
            self._finish = choice.get("finish_reason") or self._finish
        return out

    def _text_delta(self, text: str) -> list[bytes]:
        out: list[bytes] = []
        if self._message is None:
            item = {
                "id": _id("msg"),
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            out += self._add(item)
            self._message, self._text = item, []
            out.append(
                self._event(
                    "response.content_part.added",
                    item_id=item["id"],
                    output_index=len(self._output) - 1,
                    content_index=0,
                    part=_text_part(""),
                )
            )
        self._text.append(text)
        out.append(
            self._event(
                "response.output_text.delta",
                item_id=self._message["id"],
                output_index=self._output.index(self._message),
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return out

    def _call_delta(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = call.get("index", 0)
        item = self._calls.get(index)
        if item is None:
            out += self._close_message()
            item = _call_item(
                {**call, "function": {"name": (call.get("function") or {}).get("name")}},
                "in_progress",
            )
            self._calls[index] = item
            out += self._add(item)
        piece = (call.get("function") or {}).get("arguments")
        if piece:
            item["arguments"] += piece
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=self._output.index(item),
                    delta=piece,
                )
            )
        return out

    def _close_message(self) -> list[bytes]:
        item = self._message
        if item is None:
            return []
        self._message = None
        text = "".join(self._text)
        index = self._output.index(item)
        item["status"], item["content"] = "completed", [_text_part(text)]
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return [
            self._event("response.output_text.done", **where, text=text, logprobs=[]),
            self._event("response.content_part.done", **where, part=_text_part(text)),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def _close_calls(self) -> list[bytes]:
        out: list[bytes] = []
        for item in self._calls.values():
            index = self._output.index(item)
            item["status"] = "completed"
            out += [
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                ),
                self._event("response.output_item.done", output_index=index, item=item),
            ]
        self._calls = {}
        return out

    def finish(self) -> list[bytes]:
        out = self._close_message() + self._close_calls()
        status, incomplete = _ending(self._finish)
        final = self._response.object(
            status, self._output, usage_of(self._usage), incomplete=incomplete
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*out, self._event(kind, response=final)]

    def fail(self, exc: BaseException) -> list[bytes]:
        message = str(errors.redact(getattr(exc, "detail", None) or exc))
        code = getattr(exc, "code", None) or "server_error"
        error = {"code": code, "message": message}
        failed = self._response.object("failed", self._output, usage_of(self._usage), error=error)
        return [
            self._event("error", code=code, message=message, param=None),
            self._event("response.failed", response=failed),
        ]
