"""Bulk ingestion of many small files (one run): the embedder alone vs. the whole pipeline.

    python bench/ingest_small.py [--files 1000] [--concurrency 4]

1. The bundled embedder alone (the server's own runtime and batch size) on exactly the chunks the
   pipeline makes of the first N SciFact abstracts (`title + "\\n\\n" + text`, 1000/100 split):
   chunks/s.
2. A real `wayline serve` (SQLite, temp DATA_DIR): the same N abstracts uploaded as N files
   (`--concurrency` uploads at a time, as a sync script would), timed from the first upload to
   the last `completed`: chunks/s and the ratio to (1). Goal: ≥ 0.8× the embedder alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact-train"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _server import admin_key, wayline_server  # noqa: E402

from wayline.embeddings.local import LocalEmbedder  # noqa: E402
from wayline.extraction.chunking import recursive_split  # noqa: E402


def documents(n: int) -> list[str]:
    with open(SCIFACT / "corpus.jsonl") as fh:
        docs = [json.loads(line) for _, line in zip(range(n), fh, strict=False)]
    return [f"{d['title']}\n\n{d['text']}" for d in docs]


def embedder_alone(texts: list[str]) -> tuple[int, float]:
    chunks = [c for text in texts for c, _ in recursive_split(text, 1000, 100)]
    embedder = LocalEmbedder("", batch_size=32)
    embedder.encode_sync(chunks[:8])  # load + warm up
    start = time.perf_counter()
    for i in range(0, len(chunks), 64):  # the pipeline's group size
        embedder.encode_sync(chunks[i : i + 64])
    return len(chunks), len(chunks) / (time.perf_counter() - start)


async def pipeline(url: str, key: str, texts: list[str], concurrency: int) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as http:
        warm = (await http.post("/api/v1/files/", files={"file": ("w.txt", b"warm up")})).json()
        await finished(http, warm["id"])  # the model loads lazily: not part of the timing
        sem = asyncio.Semaphore(concurrency)
        ids: list[str] = []

        async def upload(i: int, text: str) -> None:
            async with sem:
                r = await http.post(
                    "/api/v1/files/", files={"file": (f"doc-{i}.txt", text.encode(), "text/plain")}
                )
                r.raise_for_status()
                ids.append(r.json()["id"])

        start = time.perf_counter()
        await asyncio.gather(*(upload(i, t) for i, t in enumerate(texts)))
        chunks = 0
        for file_id in ids:
            status = await finished(http, file_id)
            assert status["status"] == "completed", status
            chunks += status["progress"]["total"]
        return chunks, chunks / (time.perf_counter() - start)


async def finished(http: httpx.AsyncClient, file_id: str) -> dict:
    for _ in range(100_000):
        status = (await http.get(f"/api/v1/files/{file_id}/process/status")).json()
        if status["status"] in ("completed", "failed"):
            return status
        await asyncio.sleep(0.2)
    raise TimeoutError(file_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}")
    texts = documents(args.files)
    n, direct = embedder_alone(texts)
    print(f"(1) embedder alone: {n} chunks of {len(texts)} abstracts: {direct:.1f} chunks/s")
    with wayline_server(DATABASE_URL="", ENV="prod") as url:
        chunks, rate = asyncio.run(pipeline(url, admin_key(url), texts, args.concurrency))
    print(
        f"(2) {len(texts)} files uploaded ({args.concurrency} at a time) -> all completed: "
        f"{chunks} chunks, {rate:.1f} chunks/s = {rate / direct:.2f}x the embedder alone "
        "(goal >= 0.8x)"
    )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
