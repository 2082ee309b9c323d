"""The torch BERT encoder (mean pooling, L2-normalised) and what both local BERT backends share.

`supports`, `read_config` and `load_tokenizer` import no torch: the default backend
(`onnx_bert.py`, ONNX Runtime) uses them too. `BertEncoder` is the torch path: the reference
the ONNX backend is tested and benchmarked against (`LocalEmbedder(backend="torch")`), and it
needs the `torch` extra. It needs only torch and `tokenizers`, not sentence-transformers +
transformers (~250 MiB of RSS before any weights), reads the same weights (`weights.py`) and
gives the same vectors (the test suite compares them with `SentenceTransformer.encode`).
Attention uses `scaled_dot_product_attention` over slices of the batch, so the score matrices
stay small. Models of another architecture or pooling fall back to sentence-transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wayline.embeddings import weights


def supports(path: str) -> bool:
    folder = Path(path)
    try:
        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and pooling.get("pooling_mode_mean_tokens")
        and not pooling.get("pooling_mode_cls_token")
        and not pooling.get("pooling_mode_max_tokens")
        and (folder / "tokenizer.json").is_file()
        and weights.source(folder) is not None
    )


def read_config(folder: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((folder / "config.json").read_text())
    return config


def load_tokenizer(folder: Path, config: dict[str, Any]) -> tuple[Any, int]:
    """The model's tokenizer, truncating to its `max_seq_length` (sentence-transformers' limit,
    256 for MiniLM) and padding on the right to the batch's longest; and that limit."""
    from tokenizers import Tokenizer

    try:
        max_len = int(
            json.loads((folder / "sentence_bert_config.json").read_text()).get(
                "max_seq_length", 256
            )
        )
    except (OSError, ValueError):
        max_len = 256
    max_len = min(max_len, int(config.get("max_position_embeddings", 512)))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_len)
    tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
    return tokenizer, max_len


def _names(config: dict[str, Any]) -> list[str]:
    """The weights the encoder uses (a checkpoint's pooler and position ids are not among them)."""
    names = [f"embeddings.{k}_embeddings.weight" for k in ("word", "position", "token_type")] + [
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
    ]
    for i in range(int(config["num_hidden_layers"])):
        for part in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "attention.output.LayerNorm",
            "intermediate.dense",
            "output.dense",
            "output.LayerNorm",
        ):
            names += [f"encoder.layer.{i}.{part}.weight", f"encoder.layer.{i}.{part}.bias"]
    return names


class BertEncoder:
    """The torch encoder: the reference the default ONNX backend (`onnx_bert`) is tested against,
    and the encoder of BERT models when onnxruntime is not installed."""

    def __init__(self, path: str) -> None:
        import torch

        folder = Path(path)
        config = read_config(folder)
        self.tokenizer, self.max_len = load_tokenizer(folder, config)
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimensions = int(config["hidden_size"])
        with weights.open_weights(folder) as read:
            self.w = {name: torch.from_numpy(read(name).copy()) for name in _names(config)}
        self.torch = torch

    def _linear(self, x: Any, name: str) -> Any:
        return self.torch.nn.functional.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x: Any, name: str) -> Any:
        return self.torch.nn.functional.layer_norm(
            x, (x.shape[-1],), self.w[name + ".weight"], self.w[name + ".bias"], self.eps
        )

    def encode(self, texts: Sequence[str]) -> Any:
        """Normalised mean-pooled embeddings of one batch, as a (n, dim) float32 tensor."""
        torch, F = self.torch, self.torch.nn.functional
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool)
        batch, length = ids.shape
        w = self.w
        with torch.inference_mode():
            x = (
                w["embeddings.word_embeddings.weight"][ids]
                + w["embeddings.position_embeddings.weight"][:length].unsqueeze(0)
                + w["embeddings.token_type_embeddings.weight"][0]
            )
            x = self._norm(x, "embeddings.LayerNorm")
            attn_mask = mask[:, None, None, :]  # (b, 1, 1, L): padded keys are ignored
            head_dim = x.shape[-1] // self.heads
            for i in range(self.layers):
                p = f"encoder.layer.{i}."

                def split(t: Any) -> Any:
                    return t.view(batch, length, self.heads, head_dim).transpose(1, 2)

                q = split(self._linear(x, p + "attention.self.query"))
                k = split(self._linear(x, p + "attention.self.key"))
                v = split(self._linear(x, p + "attention.self.value"))
                # Attention in slices of 8 sequences: the (heads × L × L) score tensors are the
                # biggest transient allocation, and slicing caps them without slowing the matmuls.
                ctx = torch.cat(
                    [
                        F.scaled_dot_product_attention(
                            q[s : s + 8], k[s : s + 8], v[s : s + 8], attn_mask=attn_mask[s : s + 8]
                        )
                        for s in range(0, batch, 8)
                    ]
                )
                ctx = ctx.transpose(1, 2).reshape(batch, length, -1)
                x = self._norm(
                    self._linear(ctx, p + "attention.output.dense") + x,
                    p + "attention.output.LayerNorm",
                )
                h = F.gelu(self._linear(x, p + "intermediate.dense"))
                x = self._norm(self._linear(h, p + "output.dense") + x, p + "output.LayerNorm")
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return F.normalize(pooled, p=2, dim=1)
