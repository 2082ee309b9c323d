"""Embedding engines, chosen by `RAG_EMBEDDING_ENGINE` (Open WebUI's values)."""

from __future__ import annotations

from typing import TypedDict

from wayline.core.http import UpstreamClient
from wayline.core.settings import Settings
from wayline.embeddings.base import Embedder


class _Common(TypedDict):
    """The keyword arguments every engine takes."""

    batch_size: int
    query_prefix: str
    content_prefix: str


def create_embedder(settings: Settings, http: UpstreamClient) -> Embedder:
    engine = settings.RAG_EMBEDDING_ENGINE or "local"
    common: _Common = {
        "batch_size": settings.RAG_EMBEDDING_BATCH_SIZE,
        "query_prefix": settings.RAG_EMBEDDING_QUERY_PREFIX,
        "content_prefix": settings.RAG_EMBEDDING_CONTENT_PREFIX,
    }
    if engine == "local":
        from wayline.embeddings.local import LocalEmbedder

        return LocalEmbedder(
            settings.RAG_EMBEDDING_MODEL,
            threads=settings.EMBEDDING_THREADS,
            cache_dir=settings.DATA_DIR / "models",  # the ONNX graph built from the weights
            **common,
        )
    from wayline.embeddings.remote import OllamaEmbedder, OpenAIEmbedder

    attempts = max(1, settings.RAG_EMBEDDING_RETRIES)
    if engine == "ollama":
        base = (
            settings.RAG_OLLAMA_BASE_URL
            or (settings.ollama_base_urls or ["http://localhost:11434"])[0]
        )
        return OllamaEmbedder(
            http,
            base,
            settings.RAG_OLLAMA_API_KEY,
            settings.RAG_EMBEDDING_MODEL,
            attempts=attempts,
            **common,
        )
    if engine == "openai":
        base = (
            settings.RAG_OPENAI_API_BASE_URL
            or (settings.openai_base_urls or ["https://api.openai.com/v1"])[0]
        )
        key = settings.RAG_OPENAI_API_KEY or (settings.openai_api_keys or [""])[0]
        return OpenAIEmbedder(
            http, base, key, settings.RAG_EMBEDDING_MODEL, attempts=attempts, **common
        )
    raise ValueError(f"unknown RAG_EMBEDDING_ENGINE {engine!r}: use local, ollama or openai")


__all__ = ["Embedder", "create_embedder"]
