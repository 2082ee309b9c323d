"""The OpenAI API through Wayline: models, chat completions, embeddings, optional pass-through."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from typing import Any

import orjson
from fastapi.responses import Response

from wayline.auth.limits.gate import allow_model, model_listed
from wayline.chat.metering import answer_metered
from wayline.core import errors
from wayline.core.http import UpstreamClient
from wayline.core.settings import Settings
from wayline.core.usage import CHAT, EMBEDDING
from wayline.media.audio.base import Audio
from wayline.media.audio.cache import SpeechCache
from wayline.media.audio.openai import OpenAISynthesizer
from wayline.providers.base import ChatCall
from wayline.providers.entries import ModelEntry
from wayline.providers.routing import aimed
from wayline.proxies.relay import check_connection, relay
from wayline.proxies.upstreams import Upstreams
from wayline.usage.estimate import input_tokens
from wayline.usage.observe import OPENAI, metered_answer
from wayline.usage.scope import UNMETERED, UsageScope
from wayline.users.schemas import UserInfo

# Request headers a pass-through forwards; credentials are the connection's, never the caller's.
_PASS_REQUEST_HEADERS = ("content-type", "accept", "openai-beta")


class OpenAIProxy:
    def __init__(
        self,
        http: UpstreamClient,
        upstreams: Upstreams,
        settings: Settings,
        usage: UsageScope = UNMETERED,
    ) -> None:
        self._http = http
        self._up = upstreams
        self._settings = settings
        self._usage = usage

    async def verify(self, url: str, key: str) -> Response:
        """An admin checks a connection before saving it: its `/models`."""
        return await check_connection(self._http, f"{url.rstrip('/')}/models", key)

    async def models(self, user: UserInfo) -> dict[str, Any]:
        """Open WebUI's list: the OpenAI connections' own models (workspace presets are
        `/api/models`' business), each as the upstream listed it plus Open WebUI's fields,
        filtered by the access rule `/api/models` applies to the same id."""
        snapshot = await self._up.registry.snapshot()
        bypass = self._up.registry.bypass()
        data = []
        for model_id, base in snapshot.bases.items():
            if base.kind != "openai":
                continue
            shown = snapshot.entries.get(model_id)
            guard = shown if shown is not None and not shown.preset else base
            if guard.readable_by(user.id, user.is_admin, bypass, user.group_ids) and model_listed(
                model_id
            ):
                data.append(_listed(base.public))
        return {"object": "list", "data": data}

    async def models_at(self, index: int) -> Response:
        conn = self._up.connection("openai", index)
        return await relay(self._http, "GET", f"{conn.url}/models", headers=conn.headers)

    async def chat(self, body: dict[str, Any], user: UserInfo) -> Response:
        entry, conn = await self._up.pick(body.get("model"), user, "openai")
        body = {**body, "model": entry.upstream_id}
        try:
            data = orjson.dumps(body)
        except orjson.JSONEncodeError as exc:  # integers beyond 64 bits, lone surrogates
            raise errors.BadRequest(f"The request cannot be forwarded as JSON: {exc}") from exc
        # The OpenAI provider relays JSON and SSE (errors mid-stream included).
        router = self._up.routed(entry, "openai")
        call = ChatCall(
            # Routed: the entry with all its deployments, the router aims it at one per attempt.
            entry=entry if router is not None else dataclasses.replace(entry, connection=conn),
            body=body,
            stream=bool(body.get("stream")),
            user=user,
            raw=data,
        )
        meter = self._usage.start(CHAT, user.id, entry.id, conn.name)
        provider = self._up.registry.providers.of("openai")
        return await answer_metered(provider, call, meter, router.chat if router else None)

    async def embeddings(self, body: dict[str, Any], user: UserInfo) -> Response:
        entry, conn = await self._up.pick(body.get("model"), user, "openai")
        meter = self._usage.start(EMBEDDING, user.id, entry.id, conn.name)

        def send(target: ModelEntry) -> Awaitable[Response]:
            served = target.connection or conn
            meter.served(entry.id, served.name)
            return relay(
                self._http,
                "POST",
                f"{served.url}/embeddings",
                headers=served.headers,
                json={**body, "model": target.upstream_id},
            )

        router = self._up.routed(entry, "openai")
        answer = router.call(entry, send) if router is not None else send(aimed(entry, conn))
        return await metered_answer(
            meter, answer, wire=OPENAI, prompt_tokens=lambda: input_tokens(body.get("input"))
        )

    async def speech(self, body: dict[str, Any]) -> Audio:
        """Open WebUI's `/openai/audio/speech`: TTS on the first OpenAI connection, cached by body
        hash."""
        if isinstance(body.get("model"), str):
            allow_model(body["model"])  # the credential's allow-list
        connections = self._up.connections("openai")
        if not connections:
            raise errors.NotFound("No OpenAI connection is configured (OPENAI_API_BASE_URLS)")
        conn = connections[0]
        auth = {k: v for k, v in conn.headers.items() if k.lower() == "authorization"}
        engine = OpenAISynthesizer(self._http, conn.url, conn.key, auth=auth)
        return await SpeechCache(self._settings.DATA_DIR).get_or_make(
            ["openai", conn.url], body, lambda: engine.synthesize(body)
        )

    async def passthrough(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Response:
        if not self._settings.ENABLE_OPENAI_API_PASSTHROUGH:
            raise errors.Forbidden(
                f"OpenAI API pass-through is disabled, so /openai/{path} is not served: "
                "set ENABLE_OPENAI_API_PASSTHROUGH=true to forward other OpenAI routes"
            )
        connections = self._up.connections("openai")
        if not connections:
            raise errors.NotFound("No OpenAI connection is configured (OPENAI_API_BASE_URLS)")
        if any(part in ("..", ".") for part in path.split("/")):
            raise errors.BadRequest(f"Invalid path '/openai/{path}'")
        _allow_named_model(body)
        conn = connections[0]
        forward = {k: v for k, v in headers.items() if k.lower() in _PASS_REQUEST_HEADERS}
        forward.update({k: v for k, v in conn.headers.items() if k.lower() != "content-type"})
        url = f"{conn.url}/{path}" + (f"?{query}" if query else "")
        return await relay(self._http, method, url, headers=forward, data=body or None, stream=True)


def _allow_named_model(body: bytes) -> None:
    """A pass-through body naming a `model` is held to the credential's allow-list too."""
    if not body.lstrip().startswith(b"{"):
        return
    try:
        model = orjson.loads(body).get("model")
    except (orjson.JSONDecodeError, AttributeError):
        return
    if isinstance(model, str):
        allow_model(model)


def _listed(public: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI model as `/openai/models` shows it (Open WebUI's merge): the upstream's own
    fields, then `id` (with the connection's prefix), `name`, `owned_by`, `openai`,
    `connection_type`, `provider`, `urlIdx`, and `tags` when the connection has some."""
    raw = {k: v for k, v in public.get("openai", {}).items() if k != "connection_type"}
    item = {
        **raw,
        **{
            key: public[key]
            for key in ("id", "name", "owned_by", "openai", "connection_type", "provider", "urlIdx")
            if key in public
        },
    }
    if public.get("tags"):
        item["tags"] = public["tags"]
    return item
