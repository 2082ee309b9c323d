"""Embedding calls shared by the ingestion jobs of one process.

A job asks for the vectors of one group of its chunks at a time. Requests wait in one
first-come, first-served queue; each embedding call takes requests from the front until it
holds `group` texts, so the ~3 chunks of many small files travel in one call (a call of 3
texts costs nearly what a call of 30 does), while a big file's groups still alternate with
everyone else's. At most `calls` calls run at once.

A failed call that carried several requests is retried one request at a time, so a text the
embedder refuses fails its own file only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wayline.core.tasks import stop_tasks
from wayline.embeddings import Embedder


@dataclass
class _Request:
    texts: Sequence[str]
    answer: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EmbeddingQueue:
    def __init__(self, embedder: Embedder, group: int, calls: int) -> None:
        self.embedder = embedder
        self.group = max(1, group)
        self._slots = max(1, calls)
        self._waiting: deque[_Request] = deque()
        self._running: set[asyncio.Task[None]] = set()

    async def embed(self, texts: Sequence[str]) -> Any:
        """The (len(texts), dim) float32 vectors of `texts`, in order."""
        if not texts:
            raise ValueError("nothing to embed")
        request = _Request(texts)
        self._waiting.append(request)
        self._start_calls()
        try:
            return await request.answer
        finally:
            if not request.answer.done():  # cancelled while waiting: leave the queue
                with contextlib.suppress(ValueError):
                    self._waiting.remove(request)

    def _start_calls(self) -> None:
        while self._waiting and len(self._running) < self._slots:
            batch = self._take()
            if not batch:
                return
            task = asyncio.create_task(self._call(batch), name="ingest-embed")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start_calls()

    def _take(self) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while self._waiting:
            request = self._waiting[0]
            if request.answer.done():  # its job was cancelled
                self._waiting.popleft()
                continue
            if batch and size + len(request.texts) > self.group:
                break
            batch.append(self._waiting.popleft())
            size += len(request.texts)
        return batch

    async def _call(self, batch: list[_Request]) -> None:
        import numpy as np

        texts = [text for request in batch for text in request.texts]
        try:
            vectors = np.asarray(await self.embedder.embed_documents(texts), dtype=np.float32)
        except asyncio.CancelledError:
            for request in batch:
                request.answer.cancel()
            raise
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exception=exc)
            else:  # whose text was it? each alone, so only that file fails
                for request in batch:
                    await self._call([request])
            return
        start = 0
        for request in batch:
            _settle(request, result=vectors[start : start + len(request.texts)])
            start += len(request.texts)

    async def close(self) -> None:
        await stop_tasks(list(self._running))


def _settle(
    request: _Request, *, result: Any = None, exception: BaseException | None = None
) -> None:
    if request.answer.done():
        return
    if exception is not None:
        request.answer.set_exception(exception)
    else:
        request.answer.set_result(result)
