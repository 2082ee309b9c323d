"""A lean BERT encoder (mean pooling, L2-normalised) for sentence-transformers BERT models on CPU.

Why not `SentenceTransformer` itself: importing sentence-transformers + transformers costs
~250 MiB of RSS before any weights (measured: torch alone 218 MiB, +transformers' BertModel
373, +sentence-transformers 423), which leaves no room under the 600 MiB ingest budget. This
module needs only torch, `tokenizers` and `safetensors` (both already dependencies of
sentence-transformers), reads the same model folder, and gives the same vectors (the test
suite compares them with `SentenceTransformer.encode`). Attention uses
`scaled_dot_product_attention` over slices of the batch, so the score matrices stay small.
Models of another architecture or pooling fall back to sentence-transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


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
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


class BertEncoder:
    def __init__(self, path: str) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(path)
        config = json.loads((folder / "config.json").read_text())
        try:
            max_len = int(
                json.loads((folder / "sentence_bert_config.json").read_text()).get(
                    "max_seq_length", 256
                )
            )
        except (OSError, ValueError):
            max_len = 256
        self.max_len = min(max_len, int(config.get("max_position_embeddings", 512)))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimensions = int(config["hidden_size"])
        self.w = {
            k.removeprefix("bert."): v
            for k, v in load_file(str(folder / "model.safetensors")).items()
        }
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_len)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
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
