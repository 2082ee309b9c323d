"""What RAG adds to a chat: the same non-stream chat with and without
`files: [{"type": "collection"}]` over a 10-file collection, real `wayline serve` in
front of the fake upstream (its own process), concurrency 1, interleaved rounds.

The added time is query embedding (local all-MiniLM-L6-v2 on CPU), the vector and BM25
searches, fusion, and the larger prompt the upstream receives.

    python bench/rag_latency.py [--requests 600] [--model gpt-4o-mini]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import admin_key, wayline_server
from chat_gateway import start_fake
from loadgen import build_request, closed_loop, read_response

ROOT = Path(__file__).resolve().parent.parent
CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield" / "corpus.jsonl"
QUESTION = (
    "what similarity laws must be obeyed when constructing aeroelastic models of heated "
    "high speed aircraft?"
)


def ten_documents() -> list[tuple[str, str]]:
    if CRANFIELD.exists():
        docs = [json.loads(line) for line in CRANFIELD.open()][:10]
        return [(f"cran-{d['_id']}.txt", f"{d['title']}\n\n{d['text']}") for d in docs]
    return [
        (f"doc-{i}.txt", f"Document {i} about wing flutter, heat and similarity laws. " * 40)
        for i in range(10)
    ]


def questions() -> list[str]:
    path = CRANFIELD.parent / "queries.jsonl"
    if path.exists():
        return [json.loads(line)["text"] for line in path.open()]
    return [f"question number {i} about wing flutter and heat" for i in range(225)]


async def sequential(host: str, port: int, requests: list[bytes]) -> list[float]:
    """One keep-alive connection, one request at a time; latencies in ms."""
    reader, writer = await asyncio.open_connection(host, port)
    out = []
    try:
        for request in requests:
            t0 = time.perf_counter()
            writer.write(request)
            status, body = await read_response(reader)
            out.append((time.perf_counter() - t0) * 1000)
            assert status == 200, body[:300]
    finally:
        writer.close()
    return out


def setup(url: str, key: str) -> str:
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as http:
        kid = http.post("/api/v1/knowledge/create", json={"name": "ten", "description": ""}).json()[
            "id"
        ]
        for name, text in ten_documents():
            r = http.post(
                "/api/v1/retrieval/process/text",
                json={"name": name, "content": text, "collection_name": kid},
            )
            r.raise_for_status()
        # Warm the embedding model and check the RAG path works before timing it.
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": QUESTION}],
            "files": [{"type": "collection", "id": kid}],
        }
        r = http.post("/api/chat/completions", json=body)
        r.raise_for_status()
        assert r.json()["sources"][0]["document"], r.text
        return kid


async def measure(url: str, key: str, kid: str, model: str, requests: int) -> None:
    host, port_s = url.removeprefix("http://").split(":")
    port = int(port_s)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    base = {"model": model, "messages": [{"role": "user", "content": QUESTION}]}
    plain = build_request("POST", host, "/api/chat/completions", json.dumps(base).encode(), headers)
    rag = build_request(
        "POST",
        host,
        "/api/chat/completions",
        json.dumps({**base, "files": [{"type": "collection", "id": kid}]}).encode(),
        headers,
    )
    p_plain, p_rag = [], []
    rounds = 5
    for _ in range(rounds):  # interleaved so drift hits both alike
        a = await closed_loop(
            host, port, plain, concurrency=1, requests=requests // rounds, warmup=10
        )
        b = await closed_loop(
            host, port, rag, concurrency=1, requests=requests // rounds, warmup=10
        )
        assert a.errors == 0 and b.errors == 0, (a.errors, b.errors)
        p_plain.append(a.p50)
        p_rag.append(b.p50)
    plain50, rag50 = statistics.median(p_plain), statistics.median(p_rag)
    print(f"model {model}; 10-file collection; concurrency 1")
    print(
        f"same question every time ({requests} requests each, {rounds} interleaved rounds; "
        "query vector cached after the first):"
    )
    print(f"  chat without files   p50 {plain50:7.2f} ms")
    print(f"  chat with collection p50 {rag50:7.2f} ms")
    print(
        f"  added by RAG         p50 {rag50 - plain50:7.2f} ms   "
        "(target <= 10 ms; Open WebUI 0.12.4: 56 ms)"
    )

    # Every request a question not asked before: the query is embedded each time (the cold path).
    texts = questions()

    def req(text: str, files: bool) -> bytes:
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        if files:
            body["files"] = [{"type": "collection", "id": kid}]
        return build_request(
            "POST", host, "/api/chat/completions", json.dumps(body).encode(), headers
        )

    cold_plain, cold_rag = [], []
    for i, text in enumerate(texts):  # interleaved one by one
        cold_plain += await sequential(host, port, [req(f"{text} (plain {i})", False)])
        cold_rag += await sequential(host, port, [req(f"{text} (rag {i})", True)])
    cp, cr = statistics.median(cold_plain), statistics.median(cold_rag)
    print(f"a new question every time ({len(texts)} each, alternating):")
    print(f"  chat without files   p50 {cp:7.2f} ms")
    print(f"  chat with collection p50 {cr:7.2f} ms")
    print(f"  added by RAG         p50 {cr - cp:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument(
        "--embedding-threads",
        default="",
        help="EMBEDDING_THREADS for the server (default: its own)",
    )
    args = parser.parse_args()
    extra = {"EMBEDDING_THREADS": args.embedding_threads} if args.embedding_threads else {}
    fake, fake_port = start_fake()
    try:
        fake_url = f"http://127.0.0.1:{fake_port}"
        with wayline_server(
            OPENAI_API_BASE_URLS=f"{fake_url}/v1",
            OPENAI_API_KEYS="sk-bench",
            OLLAMA_BASE_URLS=fake_url,
            **extra,
        ) as url:
            key = admin_key(url)
            kid = setup(url, key)
            asyncio.run(measure(url, key, kid, args.model, args.requests))
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
