"""A fake LLM upstream speaking the real OpenAI and Ollama wire protocols over loopback.

The only stand-in the test suite allows is the model itself: this is a real aiohttp
HTTP server on 127.0.0.1 (in a background thread, or its own process with
`python -m tests.fakes.upstream --port N`) that answers like OpenAI (`/v1/...`, JSON
and SSE) and like Ollama (`/api/...`, JSON and NDJSON).

What tests get from it:
- `fake.requests`: every request received (`Recorded`: method, path, query, headers,
  full JSON body), so a test asserts exactly what Wayline forwarded.
- Replies echo the prompt: the assistant text is `"Echo: <last user text>"`, so a
  test proves the prompt arrived. With `max_tokens` the reply has exactly that many
  tokens (padded with `lorem`), which is how the benchmark asks for 200 tokens.
- Tools: a request with `tools` whose last message is not a `tool` result is answered
  with one tool call to the first tool (`arguments = {"query": <last user text>}`);
  after a `tool` message the reply is `"Tool said: <tool content>"`.
- Embeddings: deterministic bag-of-words hashing vectors (texts sharing words are
  close), 64 dimensions unless the request asks for `dimensions`.
- Scripted failures: `fake.fail(model=..., path=..., status=500 | 429 (+retry_after),
  mode="status" | "hang" | "stall" | "drop", after=N, times=K)`; `fake.models_delay`
  slows the model lists; `fake.token_delay` spaces stream tokens.
- `fake.disconnects`: paths of requests whose client went away before the reply was
  complete (a cancelled upstream request); `fake.wait_disconnect()` waits for one.

Adding routes (images, audio, ...) is one call from another module:

    from tests.fakes.upstream import route_builder

    @route_builder
    def media_routes(fake: FakeUpstream, app: web.Application) -> None:
        async def images(request):
            body = await fake.record(request)
            return web.json_response({...})
        app.router.add_post("/v1/images/generations", images)

Builders must be registered before the server starts (`tests/fakes/fixtures.py`
imports `tests.fakes.media` when it exists).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

RouteBuilder = Callable[["FakeUpstream", web.Application], None]
ROUTE_BUILDERS: list[RouteBuilder] = []


def route_builder(fn: RouteBuilder) -> RouteBuilder:
    """Register a function that adds routes to every fake upstream built afterwards."""
    if fn not in ROUTE_BUILDERS:
        ROUTE_BUILDERS.append(fn)
    return fn


OPENAI_MODELS = ["gpt-4-turbo", "gpt-4o-mini", "text-embedding-3-small"]
OLLAMA_MODELS = ["llama3.1:latest", "qwen2.5:0.5b", "nomic-embed-text:latest"]
EMBED_DIM = 64


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes


@dataclass
class Failure:
    model: str | None
    path: str | None
    status: int
    message: str
    mode: str  # status | hang | stall | drop
    after: int
    retry_after: int | None
    times: int | None

    def matches(self, path: str, model: str | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.model is None or self.model == model


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages or []):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def embed(text: str, dim: int = EMBED_DIM) -> list[float]:
    vec = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()) or [""]:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vec[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def _reply_tokens(body: dict[str, Any]) -> tuple[list[str], str]:
    """The reply as tokens (words with their leading space) and the finish reason."""
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "tool":
        text = f"Tool said: {message_text(messages[-1])}"
    else:
        text = f"Echo: {last_user_text(messages)}"
    words = text.split(" ")
    tokens = [words[0]] + [" " + w for w in words[1:]]
    limit = body.get("max_tokens") or (body.get("options") or {}).get("num_predict")
    if isinstance(limit, int) and limit > 0:
        if limit < len(tokens):
            return tokens[:limit], "length"
        tokens += [" lorem"] * (limit - len(tokens))
    return tokens, "stop"


def _tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools") or []
    messages = body.get("messages") or []
    if not tools or (messages and messages[-1].get("role") == "tool"):
        return None
    name = (tools[0].get("function") or {}).get("name", "tool")
    return {"name": name, "arguments": {"query": last_user_text(messages)}}


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.disconnects: list[str] = []
        self.models_delay = 0.0
        self.token_delay = 0.0
        self.openai_models = list(OPENAI_MODELS)
        self.ollama_models = list(OLLAMA_MODELS)
        self.record_requests = True
        # Paths answered 404 `404 page not found` (recorded first), as an older server that
        # lacks them would: e.g. `{"/v1/responses"}` plays a server without the Responses API.
        self.missing_routes: set[str] = set()
        # Scratch state of route modules (a server's catalogue, stored blobs), cleared by reset.
        self.state: dict[str, Any] = {}
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._disconnected = threading.Event()

    # --- addresses ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def ollama_url(self) -> str:
        return self.url

    # --- controls ----------------------------------------------------------------
    def reset(self) -> None:
        self.requests.clear()
        self.failures.clear()
        self.disconnects.clear()
        self._disconnected.clear()
        self.models_delay = 0.0
        self.token_delay = 0.0
        self.openai_models = list(OPENAI_MODELS)
        self.ollama_models = list(OLLAMA_MODELS)
        self.missing_routes.clear()
        self.state.clear()

    def fail(
        self,
        model: str | None = None,
        *,
        path: str | None = None,
        status: int = 500,
        message: str = "upstream exploded",
        mode: str = "status",
        after: int = 2,
        retry_after: int | None = None,
        times: int | None = None,
    ) -> None:
        """Script a failure for requests naming `model` (or any) on paths starting with `path`.

        mode: `status` answers `status` with an error body in the dialect's shape; `hang`
        never answers; `stall` streams `after` chunks then goes silent; `drop` streams
        `after` chunks then closes the connection."""
        self.failures.append(Failure(model, path, status, message, mode, after, retry_after, times))

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def last(self, path: str) -> Recorded:
        found = self.requests_to(path)
        got = [r.path for r in self.requests]
        assert found, f"the fake upstream received no request on {path}; got {got}"
        return found[-1]

    def wait_disconnect(self, timeout: float = 5.0) -> bool:
        return self._disconnected.wait(timeout)

    # --- helpers for route handlers ----------------------------------------------------
    async def record(self, request: web.Request) -> Any:
        raw = await request.read()
        data: Any = None
        if raw and request.content_type == "application/json":
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
        if self.record_requests:
            self.requests.append(
                Recorded(
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                    data,
                    raw,
                )
            )
        return data if data is not None else {}

    def failure_for(self, path: str, model: str | None) -> Failure | None:
        for failure in self.failures:
            if failure.matches(path, model):
                if failure.times is not None:
                    failure.times -= 1
                return failure
        return None

    def note_disconnect(self, path: str) -> None:
        self.disconnects.append(path)
        self._disconnected.set()

    # --- lifecycle ---------------------------------------------------------------------
    def build_app(self) -> web.Application:
        @web.middleware
        async def missing(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path in self.missing_routes:
                await self.record(request)
                return web.Response(status=404, text="404 page not found")
            return await handler(request)

        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[missing])
        _openai_routes(self, app)
        _ollama_routes(self, app)
        for builder in ROUTE_BUILDERS:
            builder(self, app)
        return app

    async def _start(self, port: int) -> None:
        # handler_cancellation: a client that goes away cancels the handler, which is
        # how `disconnects` learns that Wayline aborted its upstream request.
        self._runner = web.AppRunner(
            self.build_app(), handler_cancellation=True, shutdown_timeout=0.2, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self, port: int = 0) -> FakeUpstream:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start(port))
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


# --- shared streaming machinery ----------------------------------------------------------


async def _stream(
    fake: FakeUpstream,
    request: web.Request,
    content_type: str,
    frames: list[bytes],
    failure: Failure | None,
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
    await resp.prepare(request)
    try:
        for i, frame in enumerate(frames):
            if failure is not None and i == failure.after:
                if failure.mode == "stall":
                    await asyncio.sleep(3600)
                if failure.mode == "drop":
                    # Let the frames already sent arrive first: aiohttp's reader raises a lost
                    # connection before handing over data still buffered, so an immediate close
                    # would make "what arrived before the failure" a race.
                    await asyncio.sleep(0.2)
                    request.transport.close()  # type: ignore[union-attr]
                    return resp
            await resp.write(frame)
            if fake.token_delay:
                await asyncio.sleep(fake.token_delay)
        await resp.write_eof()
    except (asyncio.CancelledError, ConnectionResetError):
        fake.note_disconnect(request.path)
        raise
    return resp


async def _pre_failure(
    fake: FakeUpstream, request: web.Request, failure: Failure | None, openai: bool
) -> web.Response | None:
    """Apply failures that happen before any reply: an error status or a hang."""
    if failure is None:
        return None
    if failure.mode == "hang":
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            fake.note_disconnect(request.path)
            raise
    if failure.mode == "status":
        headers = (
            {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
        )
        body = (
            {"error": {"message": failure.message, "type": "server_error", "code": failure.status}}
            if openai
            else {"error": failure.message}
        )
        return web.json_response(body, status=failure.status, headers=headers)
    return None


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


# --- OpenAI dialect ----------------------------------------------------------------------


def _openai_routes(fake: FakeUpstream, app: web.Application) -> None:
    async def models(request: web.Request) -> web.Response:
        await fake.record(request)
        failure = fake.failure_for(request.path, None)
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        if fake.models_delay:
            await asyncio.sleep(fake.models_delay)
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}
            for m in fake.openai_models
        ]
        return web.json_response({"object": "list", "data": data})

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        model = body.get("model")
        failure = fake.failure_for(request.path, model)
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        if model not in fake.openai_models:
            return web.json_response(
                {
                    "error": {
                        "message": f"The model `{model}` does not exist",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
                status=404,
            )
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        tokens, finish = _reply_tokens(body)
        call = _tool_call(body)
        prompt_tokens = sum(len(message_text(m).split()) for m in body.get("messages") or [])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        }
        tool_calls = None
        if call:
            tool_calls = [
                {
                    "id": "call_" + uuid.uuid4().hex[:12],
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": orjson.dumps(call["arguments"]).decode(),
                    },
                }
            ]
            finish = "tool_calls"
        if not body.get("stream"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None if call else "".join(tokens),
            }
            if tool_calls:
                message["tool_calls"] = tool_calls
            return web.json_response(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
                    ],
                    "usage": usage,
                }
            )
        base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        # Asked for usage, OpenAI sends `"usage": null` on every chunk, then one usage-only chunk.
        asked = bool((body.get("stream_options") or {}).get("include_usage"))
        null_usage = {"usage": None} if asked else {}
        frames = [
            _sse(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ],
                    **null_usage,
                }
            )
        ]
        if tool_calls:
            delta = {"tool_calls": [{"index": 0, **tool_calls[0]}]}
            choices = [{"index": 0, "delta": delta, "finish_reason": None}]
            frames.append(_sse({**base, "choices": choices, **null_usage}))
        else:
            frames += [
                _sse(
                    {
                        **base,
                        "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}],
                        **null_usage,
                    }
                )
                for t in tokens
            ]
        last = [{"index": 0, "delta": {}, "finish_reason": finish}]
        frames.append(_sse({**base, "choices": last, **null_usage}))
        if asked:
            frames.append(_sse({**base, "choices": [], "usage": usage}))
        frames.append(b"data: [DONE]\n\n")
        return await _stream(fake, request, "text/event-stream", frames, failure)

    async def embeddings(request: web.Request) -> web.Response:
        body = await fake.record(request)
        failure = fake.failure_for(request.path, body.get("model"))
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dim = body.get("dimensions") or EMBED_DIM
        data = [
            {"object": "embedding", "index": i, "embedding": embed(t, dim)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/embeddings", embeddings)


# --- Ollama dialect ----------------------------------------------------------------------


def _ollama_tag(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "2024-07-23T10:00:00.000000000Z",
        "size": 4661224676,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": name.split(":")[0],
            "families": [name.split(":")[0]],
            "parameter_size": "8.0B",
            "quantization_level": "Q4_0",
        },
    }


def _ollama_routes(fake: FakeUpstream, app: web.Application) -> None:
    async def tags(request: web.Request) -> web.Response:
        await fake.record(request)
        failure = fake.failure_for(request.path, None)
        if (early := await _pre_failure(fake, request, failure, False)) is not None:
            return early
        if fake.models_delay:
            await asyncio.sleep(fake.models_delay)
        return web.json_response({"models": [_ollama_tag(m) for m in fake.ollama_models]})

    async def version(request: web.Request) -> web.Response:
        await fake.record(request)
        return web.json_response({"version": "0.5.7"})

    async def ps(request: web.Request) -> web.Response:
        await fake.record(request)
        loaded = [
            {**_ollama_tag(m), "expires_at": "2099-01-01T00:00:00Z", "size_vram": 0}
            for m in fake.ollama_models[:1]
        ]
        return web.json_response({"models": loaded})

    async def show(request: web.Request) -> web.Response:
        body = await fake.record(request)
        name = body.get("model") or body.get("name")
        if name not in fake.ollama_models and f"{name}:latest" not in fake.ollama_models:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        return web.json_response(
            {
                "modelfile": f"FROM {name}",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": _ollama_tag(name)["details"],
                "model_info": {},
            }
        )

    def resolve(name: Any) -> str | None:
        if name in fake.ollama_models:
            return name
        if isinstance(name, str) and ":" not in name and f"{name}:latest" in fake.ollama_models:
            return f"{name}:latest"
        return None

    def final_stats(prompt: int, completion: int) -> dict[str, Any]:
        return {
            "total_duration": 5_000_000,
            "load_duration": 1_000_000,
            "prompt_eval_count": prompt,
            "prompt_eval_duration": 1_000_000,
            "eval_count": completion,
            "eval_duration": 3_000_000,
        }

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        failure = fake.failure_for(request.path, body.get("model"))
        if (early := await _pre_failure(fake, request, failure, False)) is not None:
            return early
        model = resolve(body.get("model"))
        if model is None:
            return web.json_response(
                {"error": f'model "{body.get("model")}" not found, try pulling it first'},
                status=404,
            )
        tokens, finish = _reply_tokens(body)
        call = _tool_call(body)
        created = "2024-07-23T10:00:00.000000Z"
        prompt = sum(len(message_text(m).split()) for m in body.get("messages") or [])
        stats = final_stats(prompt, len(tokens))
        if call:
            tools_msg = {"role": "assistant", "content": "", "tool_calls": [{"function": call}]}
        if body.get("stream", True) is False:
            message = tools_msg if call else {"role": "assistant", "content": "".join(tokens)}
            return web.json_response(
                {
                    "model": model,
                    "created_at": created,
                    "message": message,
                    "done": True,
                    "done_reason": finish,
                    **stats,
                }
            )
        frames = (
            [
                orjson.dumps(
                    {"model": model, "created_at": created, "message": tools_msg, "done": False}
                )
                + b"\n"
            ]
            if call
            else [
                orjson.dumps(
                    {
                        "model": model,
                        "created_at": created,
                        "message": {"role": "assistant", "content": t},
                        "done": False,
                    }
                )
                + b"\n"
                for t in tokens
            ]
        )
        frames.append(
            orjson.dumps(
                {
                    "model": model,
                    "created_at": created,
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": finish,
                    **stats,
                }
            )
            + b"\n"
        )
        return await _stream(fake, request, "application/x-ndjson", frames, failure)

    async def generate(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        failure = fake.failure_for(request.path, body.get("model"))
        if (early := await _pre_failure(fake, request, failure, False)) is not None:
            return early
        model = resolve(body.get("model")) or body.get("model")
        tokens, finish = _reply_tokens(
            {
                "messages": [{"role": "user", "content": body.get("prompt", "")}],
                "options": body.get("options"),
            }
        )
        stats = final_stats(len(str(body.get("prompt", "")).split()), len(tokens))
        if body.get("stream", True) is False:
            return web.json_response(
                {
                    "model": model,
                    "created_at": "2024-07-23T10:00:00Z",
                    "response": "".join(tokens),
                    "done": True,
                    "done_reason": finish,
                    **stats,
                }
            )
        frames = [
            orjson.dumps({"model": model, "response": t, "done": False}) + b"\n" for t in tokens
        ]
        frames.append(
            orjson.dumps(
                {"model": model, "response": "", "done": True, "done_reason": finish, **stats}
            )
            + b"\n"
        )
        return await _stream(fake, request, "application/x-ndjson", frames, failure)

    async def embed_route(request: web.Request) -> web.Response:
        body = await fake.record(request)
        failure = fake.failure_for(request.path, body.get("model"))
        if (early := await _pre_failure(fake, request, failure, False)) is not None:
            return early
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        return web.json_response(
            {
                "model": body.get("model"),
                "embeddings": [embed(t) for t in texts],
                "total_duration": 1000,
                "load_duration": 100,
                "prompt_eval_count": len(texts),
            }
        )

    async def embeddings_legacy(request: web.Request) -> web.Response:
        body = await fake.record(request)
        return web.json_response({"embedding": embed(str(body.get("prompt", "")))})

    async def pull(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        lines = [
            {"status": "pulling manifest"},
            {"status": "verifying sha256 digest"},
            {"status": "success"},
        ]
        if body.get("stream", True) is False:
            return web.json_response(lines[-1])
        frames = [orjson.dumps(line) + b"\n" for line in lines]
        return await _stream(fake, request, "application/x-ndjson", frames, None)

    async def ok(request: web.Request) -> web.Response:
        await fake.record(request)
        return web.json_response({"status": "success"})

    app.router.add_get("/api/tags", tags)
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/ps", ps)
    app.router.add_post("/api/show", show)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/generate", generate)
    app.router.add_post("/api/embed", embed_route)
    app.router.add_post("/api/embeddings", embeddings_legacy)
    app.router.add_post("/api/pull", pull)
    for path in ("/api/push", "/api/create", "/api/copy"):
        app.router.add_post(path, ok)
    app.router.add_delete("/api/delete", ok)


def main() -> None:
    """Run the fake alone (the benchmark starts it in its own process)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--no-record", action="store_true", help="do not keep requests (long benchmark runs)"
    )
    args = parser.parse_args()
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    fake = FakeUpstream()
    fake.record_requests = not args.no_record
    fake.start(args.port)
    print(fake.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
