"""Retrieval quality on Cranfield 1400 and SciFact (training queries), end to end through the API.

Starts a real `wayline serve` (default settings: local all-MiniLM-L6-v2, SQLite), uploads
every document (`title + "\\n\\n" + text`, one file each) with `POST /api/v1/files/`, links
them all into ONE knowledge collection with `files/batch/add` while they are still being
indexed, then runs the queries through `POST /api/v1/retrieval/query/collection`.

Each query asks for 100 chunks; documents are ranked by their first chunk in the answer, and
scored with nDCG@10 (gain 2^rel − 1, log2 discount) and recall@100, for:

- dense only   (`hybrid: false`)
- BM25 only    (`hybrid: true, hybrid_bm25_weight: 1.0`)
- hybrid       (the server's defaults)

Also `k=10 chunks`: nDCG@10 of the documents in a plain k=10 answer (what the model sees), and
the hybrid query latency p50/p95 at k=3 and k=10, for a new question (its embedding included)
and for the same question again (its vector cached by the server: the search alone).

    python bench/retrieval_quality.py [--dataset cranfield|scifact] [--data DIR]
        [--keep DIR] [--queries N] [--concurrency 2] [--modes dense,bm25,hybrid]
        [--configs 'HYBRID_FUSION=chunk;HYBRID_FUSION=document,HYBRID_CANDIDATES=200']

`--keep DIR` keeps the server's DATA_DIR there: a second run with the same DIR skips the
ingestion (SciFact's 5,183 files take ~10 min) and only queries. `--configs` tries admin config
values (fusion, candidate pool size) through `/api/v1/retrieval/config/update`, hybrid only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import admin_key, wayline_server

ROOT = Path(__file__).resolve().parent.parent
DATASETS = {
    "cranfield": ROOT.parent / "shared" / "data" / "cranfield",
    "scifact": ROOT.parent / "shared" / "data" / "scifact-train",
}
MODES = {
    "dense": {"hybrid": False},
    "bm25": {"hybrid": True, "hybrid_bm25_weight": 1.0},
    "hybrid": {},
}
DEPTH = 100  # chunks per query for the ranking metrics


def load(data: Path) -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (data / "queries.jsonl").open()]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    qrels_file = data / "qrels.tsv"
    if not qrels_file.is_file():
        qrels_file = data / "qrels" / "train.tsv"
    for line in qrels_file.read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        if int(score) > 0:
            qrels[qid][did] = int(score)
    return corpus, queries, qrels


def ndcg10(ranked: list[str], rels: dict[str, int]) -> float:
    dcg = sum((2 ** rels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rels.values(), reverse=True)[:10]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[str], rels: dict[str, int], depth: int) -> float:
    return len(set(ranked[:depth]) & set(rels)) / len(rels) if rels else 0.0


def docs_of(result: dict) -> list[str]:
    out: list[str] = []
    for meta in result["metadatas"][0]:
        doc = meta["name"].removesuffix(".txt").removeprefix("doc-")
        if doc not in out:
            out.append(doc)
    return out


async def ingest(http: httpx.AsyncClient, corpus: list[dict], kid: str, concurrency: int) -> None:
    """Upload every document (processed in the background), link them all to the collection at
    once (files still processing are linked, not refused), then wait for indexing to finish."""
    sem = asyncio.Semaphore(concurrency)
    ids: list[str] = []

    async def one(doc: dict) -> None:
        async with sem:
            r = await http.post(
                "/api/v1/files/",
                files={
                    "file": (
                        f"doc-{doc['_id']}.txt",
                        f"{doc['title']}\n\n{doc['text']}".encode(),
                        "text/plain",
                    )
                },
            )
            r.raise_for_status()
            ids.append(r.json()["id"])

    await asyncio.gather(*(one(d) for d in corpus))
    r = await http.post(
        f"/api/v1/knowledge/{kid}/files/batch/add", json=[{"file_id": i} for i in ids]
    )
    r.raise_for_status()
    if r.json().get("warnings"):
        print("batch add warnings:", r.json()["warnings"]["errors"][:5])
    while True:
        files: list[dict] = []
        for page in range(1, 1000):
            items = (
                await http.get(
                    f"/api/v1/knowledge/{kid}/files", params={"limit": 1000, "page": page}
                )
            ).json()["items"]
            files += items
            if len(items) < 1000:
                break
        pending = [f for f in files if f["status"] not in ("completed", "failed")]
        if not pending:
            failed = [f for f in files if f["status"] == "failed"]
            if failed:
                print(f"{len(failed)} files failed, e.g. {failed[0]['data'].get('error')}")
            return
        await asyncio.sleep(2)


async def ask(http: httpx.AsyncClient, kid: str, query: str, k: int, mode: dict) -> dict:
    r = await http.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": [kid], "query": query, "k": k, **mode},
    )
    r.raise_for_status()
    return r.json()


async def evaluate(
    http: httpx.AsyncClient, kid: str, queries: list[dict], qrels: dict, mode: dict
) -> dict[str, float]:
    nd, rc, nd_k10 = [], [], []
    for q in queries:
        rels = qrels[q["_id"]]
        ranked = docs_of(await ask(http, kid, q["text"], DEPTH, mode))
        nd.append(ndcg10(ranked, rels))
        rc.append(recall(ranked, rels, 100))
        nd_k10.append(ndcg10(docs_of(await ask(http, kid, q["text"], 10, mode)), rels))
    return {
        "ndcg10": statistics.mean(nd),
        "recall100": statistics.mean(rc),
        "ndcg10_k10": statistics.mean(nd_k10),
    }


async def latency(
    http: httpx.AsyncClient, kid: str, queries: list[dict], k: int, suffix: str = " "
) -> tuple[list[float], list[float]]:
    """Milliseconds per hybrid query at k: (a new question, the same question again). The first
    includes embedding the question; the second finds its vector in the server's cache, so it
    is the search alone. A trailing space keeps the text apart from the ranking runs."""
    new, again = [], []
    for q in queries:
        for out in (new, again):
            t0 = time.perf_counter()
            await ask(http, kid, q["text"] + suffix, k, {})
            out.append((time.perf_counter() - t0) * 1000)
    return new, again


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def collection(http: httpx.AsyncClient, name: str) -> str | None:
    r = await http.get("/api/v1/knowledge/")
    r.raise_for_status()
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    return next((c["id"] for c in items if c["name"] == name), None)


async def run(args: argparse.Namespace) -> None:
    corpus, queries, qrels = load(args.data)
    queries = [q for q in queries if qrels.get(q["_id"])][: args.queries or None]
    keep = args.keep
    with wayline_server(data_dir=keep) as url:
        key_file = keep / "bench-key.txt" if keep else None
        if key_file and key_file.is_file():
            key = key_file.read_text().strip()
        else:
            key = admin_key(url)
            if key_file:
                key_file.write_text(key)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600
        ) as http:
            kid = await collection(http, args.dataset)
            if kid is None:
                kid = (
                    await http.post(
                        "/api/v1/knowledge/create", json={"name": args.dataset, "description": ""}
                    )
                ).json()["id"]
                t0 = time.perf_counter()
                await ingest(http, corpus, kid, args.concurrency)
                files = (
                    await http.get(f"/api/v1/knowledge/{kid}/files", params={"limit": 1})
                ).json()["total"]
                print(f"ingested {files} documents in {time.perf_counter() - t0:.1f} s")
            config = (await http.get("/api/v1/retrieval/config")).json()
            print(
                f"\n{args.dataset}: {len(corpus)} documents, {len(queries)} queries; "
                f"TOP_K {config['TOP_K']}, HYBRID_CANDIDATES {config['HYBRID_CANDIDATES']}"
            )
            print(f"{'mode':8} {'nDCG@10':>8} {'recall@100':>11} {'nDCG@10 (k=10 chunks)':>22}")
            for name in args.modes:
                mode = MODES[name]
                m = await evaluate(http, kid, queries, qrels, mode)
                print(f"{name:8} {m['ndcg10']:8.3f} {m['recall100']:11.3f} {m['ndcg10_k10']:22.3f}")
            # Warm-up, untimed: a server just started loads its in-memory index in the
            # background (searches run in the database meanwhile).
            await latency(http, kid, queries[:50], 3, suffix="  ")
            for k in (3, 10):
                new, again = await latency(http, kid, queries, k)
                print(
                    f"hybrid k={k:<3} new question p50 {pct(new, 0.5):6.1f} ms "
                    f"p95 {pct(new, 0.95):6.1f} ms; search alone (vector cached) "
                    f"p50 {pct(again, 0.5):6.1f} ms p95 {pct(again, 0.95):6.1f} ms"
                )
            for overrides in args.configs:  # each: hybrid with these admin config values
                r = await http.post("/api/v1/retrieval/config/update", json=overrides)
                r.raise_for_status()
                m = await evaluate(http, kid, queries, qrels, {})
                _, ms = await latency(http, kid, queries, 10)
                print(
                    f"{json.dumps(overrides)}: nDCG@10 {m['ndcg10']:.3f}  "
                    f"recall@100 {m['recall100']:.3f}  nDCG@10 (k=10) {m['ndcg10_k10']:.3f}  "
                    f"k=10 p50 {pct(ms, 0.5):.1f} ms p95 {pct(ms, 0.95):.1f} ms",
                    flush=True,
                )
            if args.configs:  # back to what it was
                await http.post(
                    "/api/v1/retrieval/config/update",
                    json={k: config[k] for overrides in args.configs for k in overrides},
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="cranfield")
    parser.add_argument("--data", type=Path, help="the dataset folder (default: ../shared/data)")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the server's DATA_DIR here")
    parser.add_argument("--queries", type=int, default=0, help="only the first N queries")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--configs",
        default="",
        help="admin config values to try, e.g. 'HYBRID_FUSION=chunk;HYBRID_FUSION=document,"
        "HYBRID_CANDIDATES=200' (hybrid mode only)",
    )
    parser.add_argument("--modes", default="dense,bm25,hybrid")
    args = parser.parse_args()
    args.data = args.data or DATASETS[args.dataset]
    args.configs = [
        {k: int(v) if v.isdigit() else v for k, v in (kv.split("=") for kv in c.split(","))}
        for c in args.configs.split(";")
        if c
    ]
    args.modes = [m for m in args.modes.split(",") if m]
    if args.keep:
        args.keep = args.keep.resolve()
        args.keep.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
