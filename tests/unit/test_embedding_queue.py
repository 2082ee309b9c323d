"""The ingestion jobs' shared embedding queue, over the real bundled model: small requests share
calls, answers come back to their own askers in order, a refused text fails only its own request,
and a cancelled asker leaves the queue."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from wayline.embeddings.local import LocalEmbedder
from wayline.files.batching import EmbeddingQueue

POISON = "this text is refused by the embedder"


class Recording:
    """The real local embedder, recording each call's size; refuses POISON (as a remote embedder
    refuses an input it cannot take)."""

    def __init__(self) -> None:
        self.inner = LocalEmbedder("", batch_size=32)
        self.name, self.engine = self.inner.name, self.inner.engine
        self.calls: list[int] = []
        self.dimensions = 384

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        if POISON in texts:
            raise ValueError("input refused")
        return await self.inner.embed_documents(texts)

    async def embed_query(self, text: str) -> list[float]:
        return await self.inner.embed_query(text)


@pytest.fixture(scope="module")
def alone() -> LocalEmbedder:
    return LocalEmbedder("", batch_size=32)


def texts_of(job: int) -> list[str]:
    return [f"job {job} chunk {i}: the flow over a swept wing at Mach {job + i}" for i in range(3)]


async def test_small_requests_share_calls_and_get_their_own_vectors(alone) -> None:
    embedder = Recording()
    queue = EmbeddingQueue(embedder, group=64, calls=1)
    answers = await asyncio.gather(*(queue.embed(texts_of(job)) for job in range(20)))
    # 20 jobs of 3 chunks: the first call takes the first request alone (nothing else waits
    # yet), the rest go together.
    assert len(embedder.calls) <= 3 and max(embedder.calls) >= 30, embedder.calls
    for job, vectors in enumerate(answers):
        expected = np.asarray(await alone.embed_documents(texts_of(job)), dtype=np.float32)
        assert vectors.shape == (3, 384)
        assert np.allclose(vectors, expected, atol=1e-5)


async def test_calls_hold_at_most_a_group(alone) -> None:
    embedder = Recording()
    queue = EmbeddingQueue(embedder, group=7, calls=1)
    await asyncio.gather(*(queue.embed(texts_of(job)) for job in range(10)))
    assert max(embedder.calls) <= 7 and sum(embedder.calls) == 30


async def test_a_refused_text_fails_only_its_own_request() -> None:
    embedder = Recording()
    queue = EmbeddingQueue(embedder, group=64, calls=1)
    first = asyncio.ensure_future(queue.embed(texts_of(0)))  # takes the first call alone
    await asyncio.sleep(0)
    results = await asyncio.gather(
        queue.embed(texts_of(1)),
        queue.embed([POISON, "fine"]),
        queue.embed(texts_of(2)),
        return_exceptions=True,
    )
    await first
    assert isinstance(results[1], ValueError)
    assert results[0].shape == (3, 384) and results[2].shape == (3, 384)


async def test_a_cancelled_request_leaves_the_queue() -> None:
    embedder = Recording()
    queue = EmbeddingQueue(embedder, group=64, calls=1)
    running = asyncio.ensure_future(queue.embed(texts_of(0)))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(queue.embed(texts_of(1)))
    kept = asyncio.ensure_future(queue.embed(texts_of(2)))
    await asyncio.sleep(0)
    waiting.cancel()
    await running
    assert (await kept).shape == (3, 384)
    assert sum(embedder.calls) == 6  # the cancelled request's texts were never embedded
