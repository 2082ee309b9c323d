"""The Ollama API through Wayline: requests go to the connection(s) serving the model.

Bodies are forwarded as the client sent them, with only the model name mapped to
the connection's own (its `prefix_id` removed); answers and NDJSON streams are
relayed without buffering (`proxies/relay.py`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

from fastapi.responses import Response

from wayline.auth.limits.gate import model_listed
from wayline.core import errors
from wayline.core.http import UpstreamClient, UpstreamResponse, upstream_error
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry, alias_ids
from wayline.providers.routing import aimed
from wayline.proxies.ollama.metering import metering_of
from wayline.proxies.relay import check_connection, relay
from wayline.proxies.upstreams import Upstreams
from wayline.usage.estimate import request_tokens
from wayline.usage.observe import metered_answer
from wayline.usage.scope import UNMETERED, UsageScope
from wayline.users.schemas import UserInfo

log = logging.getLogger("wayline.proxies.ollama")


def _wants_stream(body: dict[str, Any], default: bool) -> bool:
    """Ollama streams unless told `"stream": false`; embeddings never stream."""
    value = body.get("stream")
    return default if value is None else bool(value)


def _upstream_detail(resp: UpstreamResponse) -> Any:
    """The upstream's own message for an error answer."""
    return upstream_error(resp.status, resp.body, resp.headers).detail


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3]) or (0,)


class OllamaProxy:
    def __init__(
        self,
        http: UpstreamClient,
        upstreams: Upstreams,
        list_timeout: float,
        usage: UsageScope = UNMETERED,
    ) -> None:
        self._http = http
        self._up = upstreams
        self._timeout = list_timeout
        self._usage = usage

    async def _get_json(self, conn: Connection, path: str) -> Any:
        resp = await self._http.request(
            "GET", f"{conn.url}{path}", headers=conn.headers, timeout=self._timeout
        )
        return resp.raise_for_status().json()

    async def _each(self, path: str) -> list[tuple[Connection, Any]]:
        """GET `path` on every Ollama connection at once; a failing one is left out (and logged)."""
        conns = self._up.connections("ollama")
        results = await asyncio.gather(
            *(self._get_json(c, path) for c in conns), return_exceptions=True
        )
        out = []
        for conn, result in zip(conns, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("%s %s failed: %s", conn.name, path, getattr(result, "detail", result))
            else:
                out.append((conn, result))
        return out

    async def verify(self, url: str, key: str) -> Response:
        """An admin checks a connection before saving it: its `/api/version`."""
        return await check_connection(self._http, f"{url.rstrip('/')}/api/version", key)

    # --- listing --------------------------------------------------------------------------
    async def tags(self, user: UserInfo) -> dict[str, Any]:
        """Every Ollama model the user may call, merged across connections (`urls` lists where)."""
        snapshot = await self._up.registry.snapshot()
        bypass = self._up.registry.bypass()
        merged: dict[str, dict[str, Any]] = {}
        for conn, entries in await self._up.per_connection("ollama"):
            for entry in entries:
                visible = snapshot.find(entry.id, user, bypass)
                if (
                    visible is None
                    or not visible.readable_by(user.id, user.is_admin, bypass, user.group_ids)
                    or not model_listed(entry.id)
                ):
                    continue
                tag = merged.get(entry.id)
                if tag is None:
                    raw = {
                        k: v for k, v in (entry.public.get("ollama") or {}).items() if k != "urls"
                    }
                    merged[entry.id] = {
                        **raw,
                        "name": entry.id,
                        "model": entry.id,
                        "urls": [conn.index],
                    }
                elif conn.index not in tag["urls"]:
                    tag["urls"].append(conn.index)
        return {"models": list(merged.values())}

    async def tags_at(self, index: int) -> Response:
        conn = self._up.connection("ollama", index)
        return await relay(self._http, "GET", f"{conn.url}/api/tags", headers=conn.headers)

    async def version(self, index: int | None) -> Any:
        if index is not None:
            conn = self._up.connection("ollama", index)
            return await self._get_json(conn, "/api/version")
        if not self._up.connections("ollama"):
            return {"version": False}
        versions = [
            v["version"]
            for _, v in await self._each("/api/version")
            if isinstance(v, dict) and isinstance(v.get("version"), str)
        ]
        if not versions:
            raise errors.UpstreamUnavailable("No Ollama connection answered /api/version")
        # The lowest version is what every connection can do.
        return {"version": min(versions, key=_version_key)}

    async def ps(self) -> dict[str, Any]:
        models: list[dict[str, Any]] = []
        for conn, body in await self._each("/api/ps"):
            for model in (body or {}).get("models", []) if isinstance(body, dict) else []:
                if isinstance(model, dict):
                    models.append({**model, "urls": [conn.index]})
        return {"models": models}

    async def openai_models(self, user: UserInfo) -> dict[str, Any]:
        tags = (await self.tags(user))["models"]
        return {
            "object": "list",
            "data": [
                {"id": t["name"], "object": "model", "created": 0, "owned_by": "ollama"}
                for t in tags
            ],
        }

    # --- model calls --------------------------------------------------------------------
    async def call(
        self,
        path: str,
        body: dict[str, Any],
        user: UserInfo,
        index: int | None,
        *,
        key: str = "model",
        stream_default: bool = False,
    ) -> Response:
        """Forward `body` to `path` on a connection serving `body[key]`; stream when asked."""
        model = str(body.get(key))
        stream = _wants_stream(body, stream_default)
        metering = metering_of(path, body, stream)  # may ask an OpenAI-style stream for its usage
        meter = None

        def send(target: ModelEntry) -> Awaitable[Response]:
            conn = target.connection
            assert conn is not None
            if meter is not None:
                meter.served(model, conn.name)
            sent = {**body, key: target.upstream_id}
            return relay(
                self._http,
                "POST",
                f"{conn.url}{path}",
                headers=conn.headers,
                json=sent,
                stream=stream,
            )

        if index is None:
            entry, conn = await self._up.pick(model, user, "ollama")
            router = self._up.routed(entry, "ollama")
            target = aimed(entry, conn)
        else:  # the connection the caller named: no choice to make
            conn = self._up.connection("ollama", index)
            entry = await self._up.resolve(model, user, "ollama")  # the caller may use it
            router = None
            target = replace(entry, connection=conn, upstream_id=conn.upstream_id(model))
        if metering is not None:
            meter = self._usage.start(metering.kind, user.id, model, conn.name)
        answer = router.call(entry, send) if router is not None else send(target)
        if meter is None or metering is None:
            return await answer
        return await metered_answer(
            meter,
            answer,
            wire=metering.wire,
            strip=metering.strip,
            prompt_tokens=lambda: request_tokens(body),
        )

    # --- model management (admin) ------------------------------------------------------
    async def unload(self, model: str) -> dict[str, Any]:
        """Open WebUI's `/api/unload`: every connection that lists `model` drops it from memory
        (a `keep_alive: 0` generate, Ollama's way)."""
        names = alias_ids(model)
        targets = [
            (conn, entry)
            for conn, entries in await self._up.per_connection("ollama")
            for entry in entries
            if entry.id in names
        ]
        if not targets:
            raise errors.NotFound(errors.model_not_found(model))
        results = await asyncio.gather(
            *(
                self._http.request(
                    "POST",
                    f"{conn.url}/api/generate",
                    json={
                        "model": entry.upstream_id,
                        "keep_alive": 0,
                        "prompt": "",
                        "stream": False,
                    },
                    headers=conn.headers,
                )
                for conn, entry in targets
            ),
            return_exceptions=True,
        )
        failed = []
        for (conn, _), result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                failed.append(f"{conn.name}: {getattr(result, 'detail', result)}")
            elif result.status >= 400:
                failed.append(f"{conn.name}: {_upstream_detail(result)}")
        if failed:
            raise errors.UpstreamError(
                502, f"Failed to unload '{model}' on {len(failed)} connection(s): {failed}"
            )
        return {"status": True}

    async def manage(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        user: UserInfo,
        index: int | None,
        *,
        model: str | None = None,
        stream_default: bool = False,
    ) -> Response:
        """Pull/push/create go to connection `index` (0 by default, as Open WebUI); copy/delete
        without an index go to the connection serving the model."""
        if index is None and model is not None:
            entry, conn = await self._up.pick(model, user, "ollama")
            upstream_model = entry.upstream_id
            body = {
                **body,
                **({"model": upstream_model} if "model" in body else {}),
                **({"name": upstream_model} if "name" in body else {}),
                **({"source": upstream_model} if "source" in body else {}),
            }
        else:
            conn = self._up.connection("ollama", index or 0)
        stream = _wants_stream(body, stream_default)
        return await relay(
            self._http, method, f"{conn.url}{path}", headers=conn.headers, json=body, stream=stream
        )
