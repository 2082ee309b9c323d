"""The default local backend: a BERT sentence encoder run by ONNX Runtime, with no torch.

The graph is built from the model folder's weights (`weights.py`: its `model.safetensors`, or
for the bundled model the int8 export it points to, dequantized) with the `onnx` package's
helper API, in fp32, once per model: it is cached as `<cache_dir>/<name>-<hash>.onnx`, the hash
covering the weights, the config and this builder's `GRAPH_VERSION`. It is written to a
temporary file and renamed into place, so two processes that build it at once each rename a
complete file and neither ever reads a half-written one. Without
a writable cache folder the graph is built in memory (~2 s) at every first use.

The graph uses ONNX Runtime's fused CPU kernels (`com.microsoft` domain: EmbedLayerNormalization,
Attention, SkipLayerNormalization, BiasGelu), then mean pooling and L2 normalisation: the same
computation as `bert.BertEncoder` (the torch reference), to ~1e-7. Measured on this 2-core AVX2
machine against it: see `bench/embedder.py`. Attention takes the padding as each row's length,
which is right for the tokenizer's right padding.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wayline.embeddings import weights
from wayline.embeddings.bert import load_tokenizer, read_config

log = logging.getLogger("wayline.embeddings")
# Bump when the graph below changes: graphs cached by another version are then not read.
GRAPH_VERSION = 1
OPSET = 18
# Intra-op threads do not spin-wait for work: measured here, spinning made a short query
# ~2 ms faster (5.7 → 8.0 ms p50 without) but burnt ~50 ms of CPU after each one, taken from
# the event loop and the other jobs on a 2-core machine; ingestion throughput is the same.
SESSION_CONFIG: dict[str, str] = {"session.intra_op.allow_spinning": "0"}
# The arena keeps the activations' memory between batches (without it, peak RSS went up).
CPU_MEM_ARENA = True


def graph_file(folder: Path, cache_dir: Path) -> Path:
    """Where the graph of the model in `folder` is cached: `<name>-<hash>.onnx`."""
    digest = hashlib.sha256(f"wayline-bert-onnx:{GRAPH_VERSION}:{OPSET}\n".encode())
    digest.update((folder / "config.json").read_bytes())
    digest.update(weights.fingerprint(folder).encode())
    name = folder.parent.name if folder.name == "model" else folder.name
    name = re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-.") or "model"
    return cache_dir / f"{name}-{digest.hexdigest()[:16]}.onnx"


def build_graph(folder: Path) -> bytes:
    """The serialised ONNX model of the BERT encoder in `folder` (mean pooled, L2-normalised).

    Inputs `input_ids` and `attention_mask` (int64, batch × length, right-padded); output
    `embeddings` (float32, batch × hidden). The weights are read one tensor at a time, so the
    build peaks at ~2 copies of them (the model proto and its serialisation), ~180 MiB for
    MiniLM, all freed when it returns."""
    config = read_config(folder)
    weights.verify(folder)
    with weights.open_weights(folder) as read:
        model = _graph(config, read)
    data: bytes = model.SerializeToString()
    del model
    gc.collect()  # the graph builder's closures form cycles: free what they hold now
    return data


def _graph(config: dict[str, Any], w: weights.WeightReader) -> Any:
    """The model proto; `w(name)` reads one weight (names without the `bert.` prefix)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))

    nodes: list[Any] = []
    weights: list[Any] = []

    def const(name: str, value: Any) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, inputs: list[str], ms: bool = False, outputs: int = 1, **attrs: Any) -> Any:
        name = f"{kind}_{len(nodes)}"
        outs = [name] if outputs == 1 else [f"{name}_{i}" for i in range(outputs)]
        domain = "com.microsoft" if ms else ""
        nodes.append(helper.make_node(kind, inputs, outs, name=name, domain=domain, **attrs))
        return outs[0] if outputs == 1 else outs

    def t(name: str) -> Any:  # torch's Linear weight (out, in) as a MatMul operand (in, out)
        return w(name + ".weight").T

    # Embeddings: words + positions + token type 0 (folded into the positions), then LayerNorm;
    # the second output is each row's length (its count of mask ones), which Attention takes.
    x, lengths = op(
        "EmbedLayerNormalization",
        [
            op("Cast", ["input_ids"], to=TensorProto.INT32),
            "",
            const("word_embeddings", w("embeddings.word_embeddings.weight")),
            const(
                "position_embeddings",
                w("embeddings.position_embeddings.weight")
                + w("embeddings.token_type_embeddings.weight")[0],
            ),
            "",
            const("embeddings.ln.weight", w("embeddings.LayerNorm.weight")),
            const("embeddings.ln.bias", w("embeddings.LayerNorm.bias")),
            op("Cast", ["attention_mask"], to=TensorProto.INT32),
        ],
        ms=True,
        outputs=2,
        epsilon=eps,
    )
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        qkv = [p + f"attention.self.{k}" for k in ("query", "key", "value")]
        attention = op(
            "Attention",
            [
                x,
                const(p + "qkv.weight", np.concatenate([t(k) for k in qkv], axis=1)),
                const(p + "qkv.bias", np.concatenate([w(k + ".bias") for k in qkv])),
                lengths,
            ],
            ms=True,
            num_heads=heads,
        )
        x = op(
            "SkipLayerNormalization",
            [
                op("MatMul", [attention, const(p + "ao.weight", t(p + "attention.output.dense"))]),
                x,
                const(p + "ao.ln.weight", w(p + "attention.output.LayerNorm.weight")),
                const(p + "ao.ln.bias", w(p + "attention.output.LayerNorm.bias")),
                const(p + "ao.bias", w(p + "attention.output.dense.bias")),
            ],
            ms=True,
            epsilon=eps,
        )
        h = op("MatMul", [x, const(p + "i.weight", t(p + "intermediate.dense"))])
        h = op("BiasGelu", [h, const(p + "i.bias", w(p + "intermediate.dense.bias"))], ms=True)
        x = op(
            "SkipLayerNormalization",
            [
                op("MatMul", [h, const(p + "o.weight", t(p + "output.dense"))]),
                x,
                const(p + "o.ln.weight", w(p + "output.LayerNorm.weight")),
                const(p + "o.ln.bias", w(p + "output.LayerNorm.bias")),
                const(p + "o.bias", w(p + "output.dense.bias")),
            ],
            ms=True,
            epsilon=eps,
        )
    # Mean over the unpadded tokens (count clamped at 1e-9), then x / max(‖x‖, 1e-12).
    mask = op(
        "Unsqueeze",
        [op("Cast", ["attention_mask"], to=TensorProto.FLOAT), const("axis2", np.array([2]))],
    )
    axis1 = const("axis1", np.array([1]))
    pooled = op(
        "Div",
        [
            op("ReduceSum", [op("Mul", [x, mask]), axis1], keepdims=0),
            op(
                "Max",
                [
                    op("ReduceSum", [mask, axis1], keepdims=0),
                    const("min_count", np.array(1e-9, np.float32)),
                ],
            ),
        ],
    )
    norm = op("ReduceL2", [pooled, const("last_axis", np.array([-1]))], keepdims=1)
    norm = op("Max", [norm, const("min_norm", np.array(1e-12, np.float32))])
    nodes.append(helper.make_node("Div", [pooled, norm], ["embeddings"], name="normalise"))

    graph = helper.make_graph(
        nodes,
        "bert_mean_pooled",
        [
            helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "length"])
            for name in ("input_ids", "attention_mask")
        ],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", hidden])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="wayline",
        producer_version=str(GRAPH_VERSION),
    )
    model.ir_version = 8
    weights.reverse()
    while weights:  # moved one by one (protobuf copies): one copy of the weights at a time
        model.graph.initializer.add().CopyFrom(weights.pop())
    return model


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)  # atomic: a racing process renames its own complete copy
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cores() -> int:
    """EMBEDDING_THREADS=0: every core this process may run on (as torch's default)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class OnnxBertEncoder:
    """Same interface as `bert.BertEncoder`: `dimensions`, `max_len`, `encode(texts)`."""

    # Forward passes of at most 8 texts: as fast here as 16 (within the runs' noise), with a
    # peak RSS ~110 MiB lower while ingesting (1,000-character chunks: 311 vs 423 MiB).
    max_batch = 8

    def __init__(self, path: str, threads: int = 0, cache_dir: Path | None = None) -> None:
        import onnxruntime as ort

        folder = Path(path)
        config = read_config(folder)
        self.dimensions = int(config["hidden_size"])
        self.tokenizer, self.max_len = load_tokenizer(folder, config)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads if threads > 0 else _cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.enable_cpu_mem_arena = CPU_MEM_ARENA
        for key, value in SESSION_CONFIG.items():
            options.add_session_config_entry(key, value)
        self.graph_path = None if cache_dir is None else graph_file(folder, Path(cache_dir))
        self.session = self._session(folder, self.graph_path, options, ort)

    @staticmethod
    def _session(folder: Path, target: Path | None, options: Any, ort: Any) -> Any:
        providers = ["CPUExecutionProvider"]
        if target is None:
            return ort.InferenceSession(build_graph(folder), options, providers=providers)
        if target.is_file():
            try:
                return ort.InferenceSession(str(target), options, providers=providers)
            except Exception as exc:  # damaged by hand or by a full disk: rebuild it
                log.warning("cached embedding graph %s unreadable (%s): rebuilding", target, exc)
        data = build_graph(folder)
        try:
            _write_atomically(target, data)
        except OSError as exc:  # read-only DATA_DIR: run from memory, rebuild next time
            log.warning("cannot cache the embedding graph at %s: %s", target, exc)
            return ort.InferenceSession(data, options, providers=providers)
        del data  # the session reads the file: the serialised copy need not stay in memory
        return ort.InferenceSession(str(target), options, providers=providers)

    def encode(self, texts: Sequence[str]) -> Any:
        """Normalised mean-pooled embeddings of one batch, as a (n, dim) float32 array."""
        import numpy as np

        encodings = self.tokenizer.encode_batch(list(texts))
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        return self.session.run(["embeddings"], feed)[0]
