"""Embedding engines behind an HTTP API: Ollama (`/api/embed`), OpenAI-compatible (`/embeddings`).

Both go through the shared `core.http` client, in batches of `RAG_EMBEDDING_BATCH_SIZE`.
A document batch that meets a transient failure (connection refused or lost, time-out, 429,
5xx) is tried again, up to `RAG_EMBEDDING_RETRIES` attempts in all, with exponential backoff
(or the upstream's `Retry-After`): a restarting embedding server should not fail an upload
that took minutes to extract. Any other 4xx is the request's fault and fails at once with
the upstream's message. Queries are not retried: a chat should not wait seconds to fail.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from wayline.core.errors import UpstreamError
from wayline.core.http import UpstreamClient
from wayline.embeddings.base import batches, normalise

T = TypeVar("T")
log = logging.getLogger("wayline.embeddings")
BACKOFF_SECONDS = 0.5  # first wait; doubles per attempt
MAX_WAIT_SECONDS = 30.0


def is_transient(exc: UpstreamError) -> bool:
    # Connect failures and time-outs arrive as 502 / 504 (core.http), so 5xx covers them.
    return exc.status_code == 429 or exc.status_code >= 500


def retry_wait(attempt: int, exc: UpstreamError) -> float:
    retry_after = (exc.headers or {}).get("Retry-After", "")
    if retry_after.replace(".", "", 1).isdigit():
        return min(float(retry_after), MAX_WAIT_SECONDS)
    return min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_WAIT_SECONDS)


async def with_retries(call: Callable[[], Awaitable[T]], attempts: int) -> T:
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return await call()
        except UpstreamError as exc:
            if attempt >= attempts or not is_transient(exc):
                raise
            wait = retry_wait(attempt, exc)
            log.warning(
                "embedding call failed (%s: %s); attempt %d of %d in %.1f s",
                exc.status_code,
                exc.detail,
                attempt + 1,
                attempts,
                wait,
            )
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


class _RemoteEmbedder:
    engine = ""

    def __init__(
        self,
        http: UpstreamClient,
        base_url: str,
        api_key: str,
        model: str,
        *,
        batch_size: int = 32,
        query_prefix: str = "",
        content_prefix: str = "",
        attempts: int = 4,
    ) -> None:
        self._http = http
        self._attempts = attempts
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.name = model
        self._batch_size = batch_size
        self._query_prefix = query_prefix
        self._content_prefix = content_prefix
        self._dimensions: int | None = None

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            raise RuntimeError("dimensions are known after the first embedding call")
        return self._dimensions

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def _call(self, texts: Sequence[str]) -> list[list[float]]:
        raise NotImplementedError

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for batch in batches([self._content_prefix + t for t in texts], self._batch_size):
            out.extend(await with_retries(functools.partial(self._call, batch), self._attempts))
        if out:
            self._dimensions = len(out[0])
        return out

    async def embed_query(self, text: str) -> list[float]:
        vectors = await self._call([self._query_prefix + text])
        self._dimensions = len(vectors[0])
        return vectors[0]


class OllamaEmbedder(_RemoteEmbedder):
    engine = "ollama"

    async def _call(self, texts: Sequence[str]) -> list[list[float]]:
        resp = await self._http.request(
            "POST",
            f"{self._base_url}/api/embed",
            json={"model": self.name, "input": list(texts)},
            headers=self._headers(),
        )
        data = resp.raise_for_status().json()
        vectors = data.get("embeddings") if isinstance(data, dict) else None
        if not isinstance(vectors, list) or len(vectors) != len(texts):
            raise UpstreamError(502, "Ollama returned no embeddings")
        return [normalise(v) for v in vectors]


class OpenAIEmbedder(_RemoteEmbedder):
    engine = "openai"

    async def _call(self, texts: Sequence[str]) -> list[list[float]]:
        resp = await self._http.request(
            "POST",
            f"{self._base_url}/embeddings",
            json={"model": self.name, "input": list(texts)},
            headers=self._headers(),
        )
        data = resp.raise_for_status().json()
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(texts):
            raise UpstreamError(502, "the embedding API returned no embeddings")
        items = sorted(items, key=lambda d: d.get("index", 0))
        return [normalise(d["embedding"]) for d in items]
