"""Retrieval quality on Cranfield 1400, end to end through the API.

Starts a real `wayline serve` (default settings: local all-MiniLM-L6-v2, SQLite),
uploads the 1,400 documents (`title + "\\n\\n" + text`) with `POST /api/v1/files/`, links them
all into ONE knowledge collection with `files/batch/add` while they are still being indexed,
then runs the 225 queries through `POST /api/v1/retrieval/query/collection` and reports
nDCG@10 (gain 2^rel − 1, log2 discount) and recall@10 for:

- dense only   (`hybrid: false`)
- BM25 only    (`hybrid: true, hybrid_bm25_weight: 1.0`)
- hybrid       (the server's defaults: RRF of both, k = 60)

Chunks map to documents by file name; a document counts at its best chunk. Two views:
`k=10` (ten chunks, as asked: a document split in two chunks can take two slots) and
`k=30→10 docs` (thirty chunks, first ten distinct documents). Then the hybrid candidate
pool (HYBRID_CANDIDATES, per list) is swept through the admin config to pick the default.

    python bench/retrieval_quality.py [--data ../shared/data/cranfield] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import admin_key, wayline_server

ROOT = Path(__file__).resolve().parent.parent
MODES = {
    "dense": {"hybrid": False},
    "bm25": {"hybrid": True, "hybrid_bm25_weight": 1.0},
    "hybrid": {},
}


def load(data: Path) -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (data / "queries.jsonl").open()]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (data / "qrels.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        if int(score) > 0:
            qrels[qid][did] = int(score)
    return corpus, queries, qrels


def ndcg10(ranked: list[str], rels: dict[str, int]) -> float:
    dcg = sum((2 ** rels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rels.values(), reverse=True)[:10]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall10(ranked: list[str], rels: dict[str, int]) -> float:
    return len(set(ranked[:10]) & set(rels)) / len(rels) if rels else 0.0


def docs_of(result: dict) -> list[str]:
    out: list[str] = []
    for meta in result["metadatas"][0]:
        doc = meta["name"].removesuffix(".txt").removeprefix("cran-")
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
                        f"cran-{doc['_id']}.txt",
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
        files = (
            await http.get(f"/api/v1/knowledge/{kid}/files", params={"limit": 1000, "page": 1})
        ).json()["items"]
        files += (
            await http.get(f"/api/v1/knowledge/{kid}/files", params={"limit": 1000, "page": 2})
        ).json()["items"]
        pending = [f for f in files if f["status"] not in ("completed", "failed")]
        if not pending:
            failed = [f for f in files if f["status"] == "failed"]
            if failed:
                print(f"{len(failed)} files failed, e.g. {failed[0]['data'].get('error')}")
            return
        await asyncio.sleep(2)


async def evaluate(
    http: httpx.AsyncClient, kid: str, queries: list[dict], qrels: dict, mode: dict, k: int
) -> tuple[float, float, float]:
    nd, rc, lat = [], [], []
    for q in queries:
        rels = qrels.get(q["_id"])
        if not rels:
            continue
        t0 = time.perf_counter()
        r = await http.post(
            "/api/v1/retrieval/query/collection",
            json={"collection_names": [kid], "query": q["text"], "k": k, **mode},
        )
        lat.append(time.perf_counter() - t0)
        r.raise_for_status()
        ranked = docs_of(r.json())
        nd.append(ndcg10(ranked, rels))
        rc.append(recall10(ranked, rels))
    lat.sort()
    return sum(nd) / len(nd), sum(rc) / len(rc), lat[len(lat) // 2] * 1000


async def run(data: Path, concurrency: int, sweep: list[int]) -> None:
    corpus, queries, qrels = load(data)
    with wayline_server() as url:
        key = admin_key(url)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600
        ) as http:
            kid = (
                await http.post(
                    "/api/v1/knowledge/create", json={"name": "cranfield", "description": ""}
                )
            ).json()["id"]
            t0 = time.perf_counter()
            await ingest(http, corpus, kid, concurrency)
            files = (await http.get(f"/api/v1/knowledge/{kid}/files", params={"limit": 1})).json()[
                "total"
            ]
            print(f"ingested {files} documents in {time.perf_counter() - t0:.1f} s")
            default_pool = (await http.get("/api/v1/retrieval/config")).json()["HYBRID_CANDIDATES"]
            print(
                f"\n{len(queries)} queries, default settings "
                f"(hybrid candidate pool {default_pool} per list)"
            )
            print(f"{'mode':8} {'view':16} {'nDCG@10':>8} {'recall@10':>10} {'p50 ms':>7}")
            for name, mode in MODES.items():
                for k, view in ((10, "k=10"), (30, "k=30→10 docs")):
                    nd, rc, p50 = await evaluate(http, kid, queries, qrels, mode, k)
                    print(f"{name:8} {view:16} {nd:8.3f} {rc:10.3f} {p50:7.1f}")
            print("\nhybrid candidate pool sweep (HYBRID_CANDIDATES per list), k=10 view")
            for pool in sweep:
                r = await http.post(
                    "/api/v1/retrieval/config/update", json={"HYBRID_CANDIDATES": pool}
                )
                r.raise_for_status()
                nd, rc, p50 = await evaluate(http, kid, queries, qrels, {}, 10)
                print(f"pool {pool:4d}: nDCG@10 {nd:.3f}  recall@10 {rc:.3f}  p50 {p50:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cranfield")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--sweep", default="10,20,50,100,200")
    args = parser.parse_args()
    asyncio.run(run(args.data, args.concurrency, [int(x) for x in args.sweep.split(",") if x]))


if __name__ == "__main__":
    main()
