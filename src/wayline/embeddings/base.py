"""The `Embedder` plug-in point: text in, normalised vectors out, CPU and network off the loop."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    name: str  # model id
    engine: str  # "local" | "ollama" | "openai"

    @property
    def dimensions(self) -> int: ...

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def embed_query(self, text: str) -> list[float]: ...


def normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [float(x) / norm for x in vector]


def batches(items: Sequence[str], size: int) -> list[Sequence[str]]:
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]
