"""Wire models for `/api/v1/retrieval` (Open WebUI's field names; unknown fields accepted)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wayline.core.storable import OpenModel

_NAME = r"^[A-Za-z0-9_-]{1,255}$"  # Open WebUI's collection-name rule


class _QueryOptions(OpenModel):
    query: str = Field(min_length=1, max_length=100_000)
    k: int | None = Field(None, ge=1, le=1000)
    k_reranker: int | None = Field(None, ge=1, le=1000)  # accepted; there is no reranker
    r: float | None = Field(None, ge=0.0, le=1.0)
    hybrid: bool | None = None
    hybrid_bm25_weight: float | None = Field(None, ge=0.0, le=1.0)


class QueryDocForm(_QueryOptions):
    collection_name: str = Field(pattern=_NAME)


class QueryCollectionForm(_QueryOptions):
    collection_names: list[str] = Field(min_length=1, max_length=1000)


class QueryResult(BaseModel):
    """Chroma's result shape, one inner list per query (we always run one query)."""

    ids: list[list[str]]
    documents: list[list[str]]
    metadatas: list[list[dict[str, Any]]]
    distances: list[list[float]]


class ProcessTextForm(OpenModel):
    name: str = Field(min_length=1, max_length=1024)
    content: str = Field(min_length=1)
    collection_name: str | None = Field(None, pattern=_NAME)


class ProcessFileForm(OpenModel):
    file_id: str = Field(min_length=1, max_length=255)
    content: str | None = None
    collection_name: str | None = Field(None, pattern=_NAME)


class ProcessResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: bool = True
    collection_name: str
    content: str


class EmbeddingConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: bool = True
    RAG_EMBEDDING_ENGINE: str
    RAG_EMBEDDING_MODEL: str
    RAG_EMBEDDING_BATCH_SIZE: int
    ENABLE_ASYNC_EMBEDDING: bool = True
    RAG_EMBEDDING_CONCURRENT_REQUESTS: int = 0
    openai_config: dict[str, str]
    ollama_config: dict[str, str]


class EmbeddingUpdateForm(OpenModel):
    RAG_EMBEDDING_ENGINE: str | None = None
    RAG_EMBEDDING_MODEL: str | None = None
    RAG_EMBEDDING_BATCH_SIZE: int | None = Field(None, ge=1, le=4096)


class BatchFile(OpenModel):
    """One of Open WebUI's `FileModel`s: only `id` and `data.content` (the text to index, when
    given) are read; the rest is accepted and ignored, as the stored row is what counts."""

    id: str = Field(min_length=1, max_length=255)
    data: dict[str, Any] | None = None

    def text(self) -> str | None:
        """The text sent for this file; None when there is none worth indexing."""
        content = (self.data or {}).get("content")
        return content if isinstance(content, str) and content.strip() else None


class BatchProcessForm(OpenModel):
    files: list[BatchFile] = Field(max_length=1000)
    collection_name: str = Field(pattern=_NAME)


class BatchFileResult(BaseModel):
    file_id: str
    status: str
    error: str | None = None


class BatchProcessResponse(BaseModel):
    results: list[BatchFileResult]
    errors: list[BatchFileResult]


class DeleteEntriesForm(OpenModel):
    collection_name: str = Field(min_length=1, max_length=255)
    file_id: str = Field(min_length=1, max_length=255)
