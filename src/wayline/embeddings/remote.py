"""Embedding engines behind an HTTP API: Ollama (`/api/embed`) and OpenAI-compatible (`/embeddings`).

Both go through the shared `core.http` client, in batches of `RAG_EMBEDDING_BATCH_SIZE`.
"""

from __future__ import annotations

from collections.abc import Sequence

from wayline.core.errors import UpstreamError
from wayline.core.http import UpstreamClient
from wayline.embeddings.base import batches, normalise


class _RemoteEmbedder:
    engine = ""

    def __init__(self, http: UpstreamClient, base_url: str, api_key: str, model: str, *,
                 batch_size: int = 32, query_prefix: str = "", content_prefix: str = "") -> None:
        self._http = http
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
            out.extend(await self._call(batch))
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
            "POST", f"{self._base_url}/api/embed", json={"model": self.name, "input": list(texts)},
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
            "POST", f"{self._base_url}/embeddings", json={"model": self.name, "input": list(texts)},
            headers=self._headers(),
        )
        data = resp.raise_for_status().json()
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(texts):
            raise UpstreamError(502, "the embedding API returned no embeddings")
        items = sorted(items, key=lambda d: d.get("index", 0))
        return [normalise(d["embedding"]) for d in items]
