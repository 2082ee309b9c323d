"""The admin-editable retrieval settings (runtime config section "rag"), defaulting from
`Settings`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wayline.core.runtime_config import RuntimeConfig
from wayline.core.settings import Settings
from wayline.retrieval.context import DEFAULT_RAG_TEMPLATE
from wayline.retrieval.fusion import Fusion

SECTION = "rag"

# Candidates taken from EACH of the vector and BM25 lists before fusion, chosen by measurement
# (bench/retrieval_quality.py, Cranfield, k=10, nDCG@10): 10 → 0.371, 20 → 0.374, 50 → 0.381,
# 100 → 0.381, 200 → 0.381. Quality saturates at 50; a larger pool only costs time.
HYBRID_CANDIDATES = 50
# How the vector and BM25 scores are fused (`fusion`): per document (scaled scores over the
# whole scope) or per chunk (RRF over each list's top HYBRID_CANDIDATES). Measured on SciFact's
# 809 training queries and Cranfield (nDCG@10): document 0.749 / 0.401, chunk 0.714 / 0.391.
HYBRID_FUSION: Fusion = "document"


class RagConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    RAG_TEMPLATE: str = DEFAULT_RAG_TEMPLATE
    TOP_K: int = Field(3, ge=1, le=1000)
    ENABLE_RAG_HYBRID_SEARCH: bool = True
    RELEVANCE_THRESHOLD: float = Field(0.0, ge=0.0, le=1.0)
    HYBRID_BM25_WEIGHT: float = Field(0.5, ge=0.0, le=1.0)
    HYBRID_CANDIDATES: int = Field(HYBRID_CANDIDATES, ge=1, le=1000)
    HYBRID_FUSION: Fusion = HYBRID_FUSION

    @field_validator("HYBRID_FUSION", mode="before")
    @classmethod
    def _legacy_fusion(cls, value: object) -> object:
        # 0.3.0 also offered "blend"; a stored value keeps working as the document fusion.
        return "document" if value == "blend" else value

    RAG_FULL_CONTEXT: bool = False


def defaults(settings: Settings) -> RagConfig:
    return RagConfig(
        RAG_TEMPLATE=settings.RAG_TEMPLATE or DEFAULT_RAG_TEMPLATE,
        TOP_K=settings.RAG_TOP_K,
        ENABLE_RAG_HYBRID_SEARCH=settings.ENABLE_RAG_HYBRID_SEARCH,
        RELEVANCE_THRESHOLD=settings.RAG_RELEVANCE_THRESHOLD,
        RAG_FULL_CONTEXT=settings.RAG_FULL_CONTEXT,
    )


async def current(runtime: RuntimeConfig, settings: Settings) -> RagConfig:
    return await runtime.get(SECTION, defaults(settings))
