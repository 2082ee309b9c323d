"""Ingestion benchmark (one run): embedder alone vs. the whole gateway pipeline, and server memory.

    python bench/ingest.py [--sizes 100K,1M,5M] [--ndcg]

1. The local embedder alone (MiniLM on CPU torch via `embeddings/bert.py`) on 1,000 chunks of ~1,000
   characters cut from Cranfield with the pipeline's own splitter → chunks/s.
2. A real `wayline serve` (SQLite, temp DATA_DIR): upload text files of the given sizes and
   wait for `completed` → seconds, chunks/s, and the ratio to (1) for the same number of chunks
   (target ≤ 1.2×).
3. The server's RSS idle after start (before any ingest; target ≤ 200 MiB) and its peak
   (VmHWM) after the ingests (target ≤ 600 MiB).
`--ndcg` also encodes Cranfield's 1,398 whole documents and reports nDCG@10 (reference 0.368).
Other runtimes (onnxruntime fp32/int8) are not re-measured: see ARCHITECTURE.md's figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield"
sys.path.insert(0, str(ROOT / "src"))

from wayline.embeddings.local import LocalEmbedder  # noqa: E402
from wayline.extraction.chunking import recursive_split  # noqa: E402


def corpus_docs() -> list[dict]:
    with open(CRANFIELD / "corpus.jsonl") as fh:
        return [json.loads(line) for line in fh]


def corpus_text(docs: list[dict]) -> str:
    """Paragraphs of five abstracts each, so the 1000/100 split yields ~1,000-character chunks."""
    texts = [d["text"] for d in docs]
    return "\n\n".join(" ".join(texts[i : i + 5]) for i in range(0, len(texts), 5))


def text_of_size(base: str, size: int, tag: str) -> bytes:
    """`size` bytes of Cranfield prose; paragraphs numbered so files of different sizes never
    share bytes."""
    out, n, total = [], 0, 0
    paragraphs = [p for p in base.split("\n\n") if p.strip()]
    while total < size:
        para = f"[{tag}-{n}] {paragraphs[n % len(paragraphs)]}\n\n"
        out.append(para)
        total += len(para.encode())
        n += 1
    return "".join(out).encode()[:size]


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_embedder(embedder: LocalEmbedder, chunks: list[str]) -> float:
    embedder.encode_sync(chunks[:8])  # load + warm up
    start = time.perf_counter()
    embedder.encode_sync(chunks)
    return len(chunks) / (time.perf_counter() - start)


def ndcg10(embedder: LocalEmbedder, docs: list[dict]) -> float:
    import numpy as np

    with open(CRANFIELD / "queries.jsonl") as f:
        queries = [json.loads(line) for line in f]
    with open(CRANFIELD / "qrels.tsv") as f:
        qrels_lines = list(f)[1:]
    qrels: dict[str, dict[str, int]] = {}
    for line in qrels_lines:
        q, d, s = line.split()
        qrels.setdefault(q, {})[d] = int(s)
    doc_vecs = np.array(embedder.encode_sync([f"{d['title']}\n\n{d['text']}" for d in docs]))
    ids = [d["_id"] for d in docs]
    total = 0.0
    for q in queries:
        qv = np.array(embedder.encode_sync([q["text"]])[0])
        top = np.argsort(-(doc_vecs @ qv))[:10]
        rel = qrels.get(q["_id"], {})
        dcg = sum((2 ** rel.get(ids[i], 0) - 1) / math.log2(r + 2) for r, i in enumerate(top))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum((2**g - 1) / math.log2(r + 2) for r, g in enumerate(ideal))
        total += dcg / idcg if idcg else 0.0
    return total / len(queries)


def parse_size(text: str) -> int:
    mult = {"K": 1024, "M": 1024 * 1024}.get(text[-1].upper(), 1)
    return int(float(text[:-1] if text[-1].isalpha() else text) * mult)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100K,1M,5M")
    parser.add_argument("--ndcg", action="store_true")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}")

    docs = corpus_docs()
    base = corpus_text(docs)
    chunks = [c for c, _ in recursive_split(base, 1000, 100)][:1000]
    embedder = LocalEmbedder("", batch_size=32)
    direct = bench_embedder(embedder, chunks)
    print(
        f"(1) embedder alone: {len(chunks)} chunks of "
        f"{sum(map(len, chunks)) / len(chunks):.0f} chars avg: "
        f"{direct:.1f} chunks/s (lean torch BERT = sentence-transformers' vectors, torch "
        f"{__import__('torch').__version__}, fp32, batch 32)"
    )
    if args.ndcg:
        start = time.perf_counter()
        print(
            f"    nDCG@10 on Cranfield whole documents: {ndcg10(embedder, docs):.3f} "
            f"(reference 0.368; {time.perf_counter() - start:.0f} s)"
        )

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "DATA_DIR": tmp,
            "WEBUI_SECRET_KEY": "bench-secret-0123456789abcdef0123456789",
            "LOG_LEVEL": "WARNING",
            "ENV": "prod",
            "DATABASE_URL": "",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "wayline", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=600) as http:
                for _ in range(600):
                    try:
                        if http.get("/ready").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.1)
                time.sleep(1.0)
                idle = rss_kib(proc.pid) / 1024
                token = http.post(
                    "/api/v1/auths/signup",
                    json={
                        "name": "Bench",
                        "email": "bench@example.com",
                        "password": "bench-password",
                    },
                ).json()["token"]
                auth = {"Authorization": f"Bearer {token}"}

                def ingest(name: str, data: bytes) -> tuple[float, int]:
                    start = time.perf_counter()
                    file_id = http.post(
                        "/api/v1/files/", files={"file": (name, data, "text/plain")}, headers=auth
                    ).json()["id"]
                    while True:
                        status = http.get(
                            f"/api/v1/files/{file_id}/process/status", headers=auth
                        ).json()
                        if status["status"] in ("completed", "failed"):
                            break
                        time.sleep(0.1)
                    assert status["status"] == "completed", status
                    return time.perf_counter() - start, status["progress"]["total"]

                warm, _ = ingest("warmup.txt", b"warm up the lazily loaded model")
                print(
                    f"(3) server RSS idle after start: {idle:.0f} MiB (target <= 200); "
                    f"first ingest incl. lazy model load: {warm:.1f} s"
                )
                print("(2) upload -> completed through `wayline serve` (SQLite):")
                print(
                    f"    {'size':>6} {'chunks':>7} {'seconds':>8} {'chunks/s':>9} "
                    f"{'direct s':>9} {'ratio':>6}"
                )
                for size_text in args.sizes.split(","):
                    data = text_of_size(base, parse_size(size_text), size_text)
                    seconds, n = ingest(f"cranfield-{size_text}.txt", data)
                    alone = n / direct
                    print(
                        f"    {size_text:>6} {n:>7} {seconds:>8.1f} {n / seconds:>9.1f} "
                        f"{alone:>9.1f} {seconds / alone:>5.2f}x",
                        flush=True,
                    )
                peak = rss_kib(proc.pid, "VmHWM") / 1024
                print(f"(3) server peak RSS (VmHWM) after ingest: {peak:.0f} MiB (target <= 600)")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"load average at end {os.getloadavg()[0]:.2f} "
        "(other work on the machine inflates every figure)"
    )


if __name__ == "__main__":
    main()
