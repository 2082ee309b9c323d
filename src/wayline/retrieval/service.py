"""Retrieval as a service: collection names → readable files → hybrid search; admin config.

A collection name is `file-{id}` (one file) or a knowledge id (its linked files). Every
name is checked against the caller's read access; an unknown or unreadable one is 404
naming it, so a caller cannot probe for other users' collections.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.state import Core
from wayline.embeddings.base import Embedder
from wayline.knowledge.repository import KnowledgeRepository
from wayline.retrieval import config as rag_config
from wayline.retrieval.config import RagConfig
from wayline.retrieval.schemas import (
    EmbeddingConfig,
    EmbeddingUpdateForm,
    QueryResult,
    _QueryOptions,
)
from wayline.retrieval.search import HybridSearch, Result, SearchParams
from wayline.users.schemas import UserInfo

log = logging.getLogger("wayline.retrieval")
FILE_PREFIX = "file-"


def collection_not_found(name: str) -> errors.NotFound:
    return errors.NotFound(f"Collection {name} not found")


def to_query_result(results: Sequence[Result]) -> QueryResult:
    return QueryResult(
        ids=[[str(r.hit.chunk_id) for r in results]],
        documents=[[r.hit.text for r in results]],
        metadatas=[[r.hit.meta for r in results]],
        distances=[[round(r.relevance, 6) for r in results]],
    )


class RetrievalService:
    def __init__(self, core: Core, embedder: Embedder, search: HybridSearch) -> None:
        self.core = core
        self.settings = core.settings
        self.embedder = embedder
        self.search = search

    # --- configuration ------------------------------------------------------------
    async def config(self) -> RagConfig:
        return await rag_config.current(self.core.runtime_config, self.settings)

    async def config_view(self) -> dict[str, Any]:
        s = self.settings
        return {
            "status": True,
            **(await self.config()).model_dump(),
            # Deploy-time values shown for Open WebUI clients; change them through the environment.
            "RAG_SYSTEM_CONTEXT": s.RAG_SYSTEM_CONTEXT,
            "CHUNK_SIZE": s.CHUNK_SIZE,
            "CHUNK_OVERLAP": s.CHUNK_OVERLAP,
            "FILE_MAX_SIZE": s.RAG_FILE_MAX_SIZE,
            "ALLOWED_FILE_EXTENSIONS": s.allowed_file_extensions,
            "ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER": s.ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER,
            "RAG_EMBEDDING_ENGINE": self.embedder.engine,
            "RAG_EMBEDDING_MODEL": self.embedder.name,
        }

    async def update_config(self, patch: dict[str, Any]) -> dict[str, Any]:
        known = {k: v for k, v in patch.items() if k in RagConfig.model_fields}
        try:
            value = RagConfig.model_validate({**(await self.config()).model_dump(), **known})
        except ValidationError as exc:
            raise errors.BadRequest(
                [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
            ) from exc
        await self.core.runtime_config.update(rag_config.SECTION, value)
        return await self.config_view()

    def embedding_view(self) -> EmbeddingConfig:
        s = self.settings
        return EmbeddingConfig(
            RAG_EMBEDDING_ENGINE=self.embedder.engine if s.RAG_EMBEDDING_ENGINE else "",
            RAG_EMBEDDING_MODEL=self.embedder.name,
            RAG_EMBEDDING_BATCH_SIZE=s.RAG_EMBEDDING_BATCH_SIZE,
            openai_config={"url": s.RAG_OPENAI_API_BASE_URL, "key": s.RAG_OPENAI_API_KEY},
            ollama_config={"url": s.RAG_OLLAMA_BASE_URL, "key": s.RAG_OLLAMA_API_KEY},
        )

    def update_embedding(self, form: EmbeddingUpdateForm) -> EmbeddingConfig:
        current = self.embedding_view()
        engine_changed = (
            form.RAG_EMBEDDING_ENGINE is not None
            and form.RAG_EMBEDDING_ENGINE != current.RAG_EMBEDDING_ENGINE
        )
        model_changed = (
            form.RAG_EMBEDDING_MODEL is not None
            and form.RAG_EMBEDDING_MODEL != current.RAG_EMBEDDING_MODEL
        )
        if engine_changed or model_changed:
            # Vectors of different models are not comparable: switching needs every file
            # re-embedded, which is a deploy step, not a request.
            raise errors.BadRequest(
                "Changing the embedding engine or model at runtime is not supported: "
                "set RAG_EMBEDDING_ENGINE / RAG_EMBEDDING_MODEL and restart, then re-index files"
            )
        return current

    # --- collections and search ----------------------------------------------------------
    async def file_ids_for(
        self, session: AsyncSession, user: UserInfo, names: Sequence[str]
    ) -> list[str]:
        repo = KnowledgeRepository(session)
        file_ids: dict[str, None] = {}
        for name in dict.fromkeys(names):
            if name.startswith(FILE_PREFIX):
                file = await repo.readable_file(user, name[len(FILE_PREFIX) :])
                if file is None:
                    raise collection_not_found(name)
                file_ids[file["id"]] = None
                continue
            if await repo.readable(user, name) is None:
                raise collection_not_found(name)
            file_ids.update(dict.fromkeys(await repo.file_ids([name])))
        return list(file_ids)

    def params(
        self, cfg: RagConfig, form: _QueryOptions | None = None, k: int | None = None
    ) -> SearchParams:
        f = form
        return SearchParams(
            k=(f.k if f and f.k else None) or k or cfg.TOP_K,
            hybrid=f.hybrid if f and f.hybrid is not None else cfg.ENABLE_RAG_HYBRID_SEARCH,
            bm25_weight=f.hybrid_bm25_weight
            if f and f.hybrid_bm25_weight is not None
            else cfg.HYBRID_BM25_WEIGHT,
            threshold=f.r if f and f.r is not None else cfg.RELEVANCE_THRESHOLD,
            candidates=cfg.HYBRID_CANDIDATES,
            fusion=cfg.HYBRID_FUSION,
        )

    async def query(
        self, session: AsyncSession, user: UserInfo, names: Sequence[str], form: _QueryOptions
    ) -> QueryResult:
        file_ids = await self.file_ids_for(session, user, names)
        results = await self.search.search(
            session, file_ids, form.query, self.params(await self.config(), form)
        )
        return to_query_result(results)
