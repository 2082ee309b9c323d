"""A provider's chat answer (OpenAI's Chat Completions shape, `providers.base.Provider.chat`)
read back as data, for the routes that answer in another API's shape (Responses, Messages).

A stream is read chunk by chunk as it arrives (never buffered whole); leaving early closes
it, which cancels the upstream request. An error event inside the stream (how a provider
ends a stream that failed after its first byte) is raised as `UpstreamError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from wayline.core.errors import UpstreamError
from wayline.proxies.sse import data_records


def _failure(error: Any) -> UpstreamError:
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or "The model's stream failed"
        code = error.get("code")
        return UpstreamError(
            502,
            str(message),
            code=code if isinstance(code, str) else None,
            error_type=error.get("type") if isinstance(error.get("type"), str) else None,
        )
    return UpstreamError(502, str(error or "The model's stream failed"))


async def chat_chunks(resp: Response) -> AsyncIterator[dict[str, Any]]:
    """The `chat.completion.chunk`s of an answer. An upstream that answered a stream request
    with a plain JSON completion gives that completion as chunks."""
    if not isinstance(resp, StreamingResponse):
        for chunk in completion_chunks(orjson.loads(resp.body)):
            yield chunk
        return
    body = resp.body_iterator
    try:
        async for record in data_records(body):
            if record.strip() == b"[DONE]":
                break
            data = orjson.loads(record)
            if not isinstance(data, dict):
                continue
            if data.get("error") and not data.get("choices"):
                raise _failure(data["error"])
            yield data
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()


async def chat_completion(resp: Response) -> dict[str, Any]:
    """The `chat.completion` of a non-streamed answer (assembled, should a provider stream
    anyway)."""
    if not isinstance(resp, StreamingResponse):
        data = orjson.loads(resp.body)
        if not isinstance(data, dict):
            raise UpstreamError(502, "The model answered with something other than a completion")
        return data
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish, usage, chat_id = None, None, None
    async for chunk in chat_chunks(resp):
        chat_id = chat_id or chunk.get("id")
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(
                    call.get("index", len(calls)),
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                fn = call.get("function") or {}
                slot["id"] = call.get("id") or slot["id"]
                slot["function"]["name"] = fn.get("name") or slot["function"]["name"]
                slot["function"]["arguments"] += fn.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {
        "id": chat_id,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish or "stop"}],
        "usage": usage,
    }


def completion_chunks(completion: Any) -> list[dict[str, Any]]:
    """A whole `chat.completion` as the chunks a stream of it would have carried."""
    if not isinstance(completion, dict):
        raise UpstreamError(502, "The model answered with something other than a completion")
    choices = completion.get("choices") or [{}]
    message = choices[0].get("message") or {}
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("reasoning_content"):
        delta["reasoning_content"] = message["reasoning_content"]
    if message.get("tool_calls"):
        delta["tool_calls"] = [{**c, "index": i} for i, c in enumerate(message["tool_calls"])]
    base = {"id": completion.get("id"), "object": "chat.completion.chunk"}
    return [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {
            **base,
            "choices": [
                {"index": 0, "delta": {}, "finish_reason": choices[0].get("finish_reason")}
            ],
            "usage": completion.get("usage"),
        },
    ]


def token_counts(usage: Any) -> tuple[int, int]:
    """(input, output) tokens of an OpenAI usage object (0 when the model reported none)."""
    if not isinstance(usage, dict):
        return 0, 0
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    return (
        prompt if isinstance(prompt, int) else 0,
        completion if isinstance(completion, int) else 0,
    )
