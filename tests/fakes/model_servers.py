"""The fake upstream's model-management routes: llama.cpp's server (router mode) at the
server root, and Ollama's blob store.

- llama.cpp: `GET /models` (each model with `status.value`), `POST /models` (download:
  `{model}` is added, unloaded), `DELETE /models?model=`, `POST /models/load` and
  `/models/unload` (`{model}` -> `{"success": true}`, 404 for an unknown one), and
  `GET /models/sse` (one SSE event per model, then the stream ends).
- Ollama: `POST /api/blobs/sha256:<digest>` (scripted failures apply) stores the body when
  its SHA-256 matches (201,
  else 400), `HEAD` of the same path says whether it is stored; `fake.state["blobs"]` holds
  them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from tests.fakes.upstream import FakeUpstream, _pre_failure, route_builder


def _llama_cpp_routes(fake: FakeUpstream, app: web.Application) -> None:
    def models() -> dict[str, str]:
        """The server's own catalogue (name -> state), kept for the test in `fake.state`."""
        catalogue: dict[str, str] = fake.state.setdefault("llama.cpp", {})
        if not catalogue:
            catalogue.update({m: "unloaded" for m in fake.openai_models})
        return catalogue

    async def listing(request: web.Request) -> web.Response:
        await fake.record(request)
        data = [
            {"id": m, "object": "model", "status": {"value": state}}
            for m, state in models().items()
        ]
        return web.json_response({"object": "list", "data": data})

    async def download(request: web.Request) -> web.Response:
        body = await fake.record(request)
        models()[str(body.get("model"))] = "unloaded"
        return web.json_response({"success": True})

    async def delete(request: web.Request) -> web.Response:
        await fake.record(request)
        if models().pop(request.query.get("model", ""), None) is None:
            return web.json_response({"error": {"message": "model not found"}}, status=404)
        return web.Response(status=200)  # an empty body, as some servers answer

    def state_setter(state: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            body = await fake.record(request)
            name = str(body.get("model"))
            if name not in models():
                error = {"message": f"model {name} not found", "code": 404}
                return web.json_response({"error": error}, status=404)
            models()[name] = state
            return web.json_response({"success": True})

        return handler

    async def events(request: web.Request) -> web.StreamResponse:
        await fake.record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for name, state in models().items():
            await resp.write(b"data: " + orjson.dumps({"model": name, "status": state}) + b"\n\n")
        await resp.write_eof()
        return resp

    app.router.add_get("/models", listing)
    app.router.add_post("/models", download)
    app.router.add_delete("/models", delete)
    app.router.add_post("/models/load", state_setter("loaded"))
    app.router.add_post("/models/unload", state_setter("unloaded"))
    app.router.add_get("/models/sse", events)


def _blob_routes(fake: FakeUpstream, app: web.Application) -> None:
    async def push(request: web.Request) -> web.Response:
        await fake.record(request)
        failure = fake.failure_for(request.path, None)
        if (early := await _pre_failure(fake, request, failure, False)) is not None:
            return early
        digest, data = request.match_info["digest"], await request.read()
        if digest != "sha256:" + hashlib.sha256(data).hexdigest():
            return web.json_response({"error": "digest mismatch"}, status=400)
        fake.state.setdefault("blobs", {})[digest] = data
        return web.Response(status=201)

    async def exists(request: web.Request) -> web.Response:
        stored = request.match_info["digest"] in fake.state.get("blobs", {})
        return web.Response(status=200 if stored else 404)

    app.router.add_post("/api/blobs/{digest}", push)
    app.router.add_route("HEAD", "/api/blobs/{digest}", exists)


@route_builder
def model_server_routes(fake: FakeUpstream, app: web.Application) -> None:
    _llama_cpp_routes(fake, app)
    _blob_routes(fake, app)
