"""The fake upstream's Responses and Messages routes, on the real wire formats.

- `POST /v1/responses`: OpenAI's Responses API (what OpenAI, vLLM and Ollama 0.13+ serve).
  `input` as a string or items (messages with text parts, `function_call_output`),
  `instructions`, `max_output_tokens`, function `tools`; JSON, or SSE events named
  `response.created` … `response.completed` with `sequence_number`s and usage.
- `POST /v1/messages`: Anthropic's Messages API as Ollama 0.14+ serves it. `system`,
  `messages` (text, `tool_use`, `tool_result` blocks), `max_tokens`, `tools`; JSON, or SSE
  events `message_start` … `message_stop`. `POST /v1/messages/count_tokens` answers
  `{"input_tokens": <words of system and messages>}`.

Both answer like the chat routes: `"Echo: <last user text>"`, a call to the first tool
(`{"query": <last user text>}`) while tools are given and no tool result came back, then
`"Tool said: <result>"`; `max_output_tokens` / `max_tokens` cut or pad the reply. An unknown
model is a 404 naming it. To play an older server that lacks a route, put its path in
`fake.missing_routes` (see `upstream.py`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.upstream import (
    FakeUpstream,
    _pre_failure,
    _reply_tokens,
    _stream,
    route_builder,
)


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


def _known(fake: FakeUpstream, model: Any) -> bool:
    names = {*fake.openai_models, *fake.ollama_models}
    return model in names or (isinstance(model, str) and f"{model}:latest" in names)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") in ("input_text", "text", "output_text")
        )
    return ""


def _as_chat(messages: list[dict[str, Any]], limit: Any, tools: bool) -> dict[str, Any]:
    """The chat-shaped body `_reply_tokens` understands."""
    body: dict[str, Any] = {"messages": messages}
    if isinstance(limit, int):
        body["max_tokens"] = limit
    if tools:
        body["tools"] = [{"function": {"name": "tool"}}]
    return body


# --- Responses ------------------------------------------------------------------------------


def _responses_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    given = body.get("input")
    if isinstance(given, str):
        return [{"role": "user", "content": given}]
    out = []
    for item in given or []:
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            out.append({"role": item.get("role"), "content": _text(item.get("content"))})
        elif kind == "function_call_output":
            out.append({"role": "tool", "content": str(item.get("output", ""))})
    return out


def _response_object(
    rid: str, model: str, status: str, output: list[Any], usage: Any
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def _responses_route(fake: FakeUpstream, app: web.Application) -> None:
    async def responses(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        model = body.get("model")
        failure = fake.failure_for(request.path, model)
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        if not _known(fake, model):
            error = {
                "message": f"The model `{model}` does not exist",
                "type": "invalid_request_error",
                "code": "model_not_found",
            }
            return web.json_response({"error": error}, status=404)
        messages = _responses_messages(body)
        tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
        calling = bool(tools) and not (messages and messages[-1]["role"] == "tool")
        tokens, finish = _reply_tokens(_as_chat(messages, body.get("max_output_tokens"), False))
        prompt = sum(len(str(m["content"]).split()) for m in messages)
        usage = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": len(tokens),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + len(tokens),
        }
        rid, item_id = f"resp_{uuid.uuid4().hex}", f"msg_{uuid.uuid4().hex}"
        text = "".join(tokens)
        if calling:
            last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
            item: dict[str, Any] = {
                "id": f"fc_{uuid.uuid4().hex}",
                "type": "function_call",
                "status": "completed",
                "call_id": f"call_{uuid.uuid4().hex[:12]}",
                "name": tools[0].get("name", "tool"),
                "arguments": orjson.dumps({"query": last}).decode(),
            }
        else:
            item = {
                "id": item_id,
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        status = "incomplete" if finish == "length" and not calling else "completed"
        final = _response_object(rid, model, status, [item], usage)
        if not body.get("stream"):
            return web.json_response(final)
        frames = _response_frames(final, item, tokens)
        return await _stream(fake, request, "text/event-stream", frames, failure)

    app.router.add_post("/v1/responses", responses)


def _response_frames(final: dict[str, Any], item: dict[str, Any], tokens: list[str]) -> list[bytes]:
    seq = iter(range(10_000))
    start = {**final, "status": "in_progress", "output": [], "usage": None}
    frames = [
        _event("response.created", {"sequence_number": next(seq), "response": start}),
        _event("response.in_progress", {"sequence_number": next(seq), "response": start}),
    ]
    if item["type"] == "function_call":
        opened = {**item, "status": "in_progress", "arguments": ""}
        where = {"item_id": item["id"], "output_index": 0}
        frames += [
            _event(
                "response.output_item.added",
                {"sequence_number": next(seq), "output_index": 0, "item": opened},
            ),
            _event(
                "response.function_call_arguments.delta",
                {"sequence_number": next(seq), **where, "delta": item["arguments"]},
            ),
            _event(
                "response.function_call_arguments.done",
                {"sequence_number": next(seq), **where, "arguments": item["arguments"]},
            ),
        ]
    else:
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        part = {"type": "output_text", "text": "", "annotations": []}
        frames += [
            _event(
                "response.output_item.added",
                {
                    "sequence_number": next(seq),
                    "output_index": 0,
                    "item": {**item, "status": "in_progress", "content": []},
                },
            ),
            _event(
                "response.content_part.added", {"sequence_number": next(seq), **where, "part": part}
            ),
        ]
        frames += [
            _event(
                "response.output_text.delta",
                {"sequence_number": next(seq), **where, "delta": t, "logprobs": []},
            )
            for t in tokens
        ]
        text = "".join(tokens)
        frames += [
            _event(
                "response.output_text.done",
                {"sequence_number": next(seq), **where, "text": text, "logprobs": []},
            ),
            _event(
                "response.content_part.done",
                {"sequence_number": next(seq), **where, "part": {**part, "text": text}},
            ),
        ]
    frames.append(
        _event(
            "response.output_item.done",
            {"sequence_number": next(seq), "output_index": 0, "item": item},
        )
    )
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    frames.append(_event(kind, {"sequence_number": next(seq), "response": final}))
    return frames


# --- Messages -------------------------------------------------------------------------------


def _anthropic_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
            if results:
                out.append({"role": "tool", "content": _text(results[-1].get("content"))})
                continue
        out.append({"role": message.get("role"), "content": _text(content)})
    return out


def _messages_route(fake: FakeUpstream, app: web.Application) -> None:
    async def messages(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        model = body.get("model")
        failure = fake.failure_for(request.path, model)
        if (early := await _pre_failure(fake, request, failure, False)) is not None:
            return early
        if not _known(fake, model):
            error = {"type": "not_found_error", "message": f'model "{model}" not found'}
            return web.json_response({"type": "error", "error": error}, status=404)
        chat = _anthropic_messages(body)
        tools = body.get("tools") or []
        calling = bool(tools) and not (chat and chat[-1]["role"] == "tool")
        tokens, finish = _reply_tokens(_as_chat(chat, body.get("max_tokens"), False))
        prompt = sum(len(str(m["content"]).split()) for m in chat)
        if calling:
            last = next((m["content"] for m in reversed(chat) if m["role"] == "user"), "")
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:24]}",
                "name": tools[0].get("name", "tool"),
                "input": {"query": last},
            }
            stop = "tool_use"
        else:
            block = {"type": "text", "text": "".join(tokens)}
            stop = "max_tokens" if finish == "length" else "end_turn"
        usage = {"input_tokens": prompt, "output_tokens": len(tokens)}
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return web.json_response(message)
        started = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 0},
        }
        frames = [_event("message_start", {"message": started})]
        if calling:
            frames += [
                _event(
                    "content_block_start",
                    {"index": 0, "content_block": {**block, "input": {}}},
                ),
                _event(
                    "content_block_delta",
                    {
                        "index": 0,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": orjson.dumps(block["input"]).decode(),
                        },
                    },
                ),
            ]
        else:
            frames.append(
                _event(
                    "content_block_start",
                    {"index": 0, "content_block": {"type": "text", "text": ""}},
                )
            )
            frames += [
                _event(
                    "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": t}}
                )
                for t in tokens
            ]
        frames += [
            _event("content_block_stop", {"index": 0}),
            _event(
                "message_delta",
                {
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": len(tokens)},
                },
            ),
            _event("message_stop", {}),
        ]
        return await _stream(fake, request, "text/event-stream", frames, failure)

    async def count_tokens(request: web.Request) -> web.Response:
        body = await fake.record(request)
        if not _known(fake, body.get("model")):
            error = {"type": "not_found_error", "message": f'model "{body.get("model")}" not found'}
            return web.json_response({"type": "error", "error": error}, status=404)
        texts = [_text(body.get("system"))] + [m["content"] for m in _anthropic_messages(body)]
        return web.json_response({"input_tokens": sum(len(str(t).split()) for t in texts)})

    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)


@route_builder
def native_api_routes(fake: FakeUpstream, app: web.Application) -> None:
    _responses_route(fake, app)
    _messages_route(fake, app)
