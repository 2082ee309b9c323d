"""Running pipes: the loaded-instance cache, the model list a pipe declares, and a call.

Call convention (Open WebUI §8.2): `pipe(body=<OpenAI request>, **extras)` where only the
extras named in the signature are passed (`__user__`, `__metadata__`, `__files__`,
`__request__`, ...). Sync pipes run in a worker thread so they cannot block the loop;
sync generators are iterated there too.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from wayline.core import errors
from wayline.functions import loader

log = logging.getLogger("wayline.functions")

PIPES_TIMEOUT = 5.0


@dataclass
class Loaded:
    updated_at: int
    kind: str
    instance: Any


class FunctionRuntime:
    """Function id -> loaded instance, rebuilt when the stored row's `updated_at` changes."""

    def __init__(self) -> None:
        self._loaded: dict[str, Loaded] = {}

    def instance(
        self, function_id: str, content: str, valves: dict[str, Any] | None, updated_at: int
    ) -> Loaded:
        cached = self._loaded.get(function_id)
        if cached is not None and cached.updated_at == updated_at:
            return cached
        module, kind = loader.load(function_id, content)
        loaded = Loaded(updated_at, kind, loader.instantiate(module, kind, valves))
        self._loaded[function_id] = loaded
        return loaded

    def cached(self, function_id: str) -> Loaded | None:
        return self._loaded.get(function_id)

    def forget(self, function_id: str) -> None:
        self._loaded.pop(function_id, None)
        loader.unload(function_id)

    async def pipe_models(self, instance: Any) -> list[dict[str, str]] | None:
        """The manifold's `[{id, name}]`, or None for a single pipe."""
        pipes = getattr(instance, "pipes", None)
        if pipes is None:
            return None
        if callable(pipes):
            if inspect.iscoroutinefunction(pipes):
                pipes = await asyncio.wait_for(pipes(), PIPES_TIMEOUT)
            else:
                pipes = await asyncio.wait_for(run_in_threadpool(pipes), PIPES_TIMEOUT)
        return [
            {"id": str(p["id"]), "name": str(p.get("name", p["id"]))}
            for p in pipes or []
            if isinstance(p, dict) and "id" in p
        ]


async def call_pipe(instance: Any, body: dict[str, Any], extras: dict[str, Any]) -> Any:
    pipe = getattr(instance, "pipe", None)
    if pipe is None:
        raise errors.BadRequest("The function has no pipe() method")
    wanted = inspect.signature(pipe).parameters
    kwargs = {k: v for k, v in extras.items() if k in wanted}
    if inspect.iscoroutinefunction(pipe):
        return await pipe(body=body, **kwargs)
    if inspect.isasyncgenfunction(pipe) or inspect.isgeneratorfunction(pipe):
        return pipe(body=body, **kwargs)
    return await run_in_threadpool(pipe, body=body, **kwargs)


def _items(result: Any) -> AsyncIterator[Any]:
    if inspect.isasyncgen(result):
        return result
    return iterate_in_threadpool(result)


def _dump(item: Any) -> Any:
    return item.model_dump() if hasattr(item, "model_dump") else item


def _text_of(item: Any) -> str:
    """The text an item of a pipe's stream contributes to a collected (non-stream) reply."""
    if isinstance(item, str):
        if not item.startswith("data:"):
            return item
        payload = item[5:].strip()
        if payload == "[DONE]":
            return ""
        try:
            item = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return ""
    item = _dump(item)
    if isinstance(item, dict):
        choice = (item.get("choices") or [{}])[0]
        part = choice.get("delta") or choice.get("message") or {}
        return part.get("content") or ""
    return str(item)


class Chunker:
    """Builds OpenAI chunks/completions for a pipe's output under one id."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return (
            b"data: "
            + orjson.dumps(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [
                        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                    ],
                }
            )
            + b"\n\n"
        )

    def completion(self, text: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "logprobs": None,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }

    async def sse(self, result: Any) -> AsyncIterator[bytes]:
        """A pipe's return value as SSE events, ending with a stop chunk and `[DONE]`."""
        if isinstance(result, str):
            yield self.chunk({"role": "assistant", "content": result})
        elif isinstance(result, dict) or hasattr(result, "model_dump"):
            yield b"data: " + orjson.dumps(_dump(result)) + b"\n\n"
        elif result is not None:
            async for item in _items(result):
                if isinstance(item, str):
                    if item.startswith("data:"):
                        yield (
                            item.encode()
                            if item.endswith("\n\n")
                            else item.rstrip("\n").encode() + b"\n\n"
                        )
                    elif item:
                        yield self.chunk({"content": item})
                elif isinstance(item, bytes):
                    yield item
                else:
                    yield b"data: " + orjson.dumps(_dump(item)) + b"\n\n"
        yield self.chunk({}, "stop")
        yield b"data: [DONE]\n\n"

    async def collect(self, result: Any) -> dict[str, Any]:
        if isinstance(result, str):
            return self.completion(result)
        if isinstance(result, dict) or hasattr(result, "model_dump"):
            return _dump(result)
        if result is None:
            return self.completion("")
        parts = [_text_of(item) async for item in _items(result)]
        return self.completion("".join(parts))
