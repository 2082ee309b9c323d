"""The admin-editable retrieval settings (runtime config section "rag"), defaulting from
`Settings`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wayline.core.runtime_config import RuntimeConfig
from wayline.core.settings import Settings
from wayline.retrieval.context import DEFAULT_RAG_TEMPLATE
from wayline.retrieval.fusion import Fusion

SECTION = "rag"

# Candidates taken from EACH of the vector and BM25 lists before fusion, chosen by measurement
# (bench/retrieval_quality.py, Cranfield, k=10, nDCG@10): 10 → 0.371, 20 → 0.374, 50 → 0.381,
# 100 → 0.381, 200 → 0.381. Quality saturates at 50; a larger pool only costs time.
HYBRID_CANDIDATES = 50
# How the vector and BM25 lists are fused (`fusion.fuse`): per chunk, per document, or both.
# Measured on SciFact (300 training queries, 14,473 chunks; nDCG@10 / recall@100): chunk 0.702 /
# 0.939, document 0.693 / 0.936, blend 0.700 / 0.936; with 200 candidates per list, document
# 0.694 / 0.929 and blend 0.702 / 0.933. Per chunk stays the default.
HYBRID_FUSION: Fusion = "chunk"


class RagConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    RAG_TEMPLATE: str = DEFAULT_RAG_TEMPLATE
    TOP_K: int = Field(3, ge=1, le=1000)
    ENABLE_RAG_HYBRID_SEARCH: bool = True
    RELEVANCE_THRESHOLD: float = Field(0.0, ge=0.0, le=1.0)
    HYBRID_BM25_WEIGHT: float = Field(0.5, ge=0.0, le=1.0)
    HYBRID_CANDIDATES: int = Field(HYBRID_CANDIDATES, ge=1, le=1000)
    HYBRID_FUSION: Fusion = HYBRID_FUSION
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
