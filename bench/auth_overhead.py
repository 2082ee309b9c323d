"""What authentication adds to a request: unauthenticated `GET /api/version` versus an
API-key-authenticated `GET /api/v1/auths/`, same server, same run, concurrency 1.

    python bench/auth_overhead.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import admin_key, wayline_server
from loadgen import build_request, closed_loop, row


async def measure(url: str, key: str, requests: int) -> None:
    host, port = url.removeprefix("http://").split(":")
    public = build_request("GET", host, "/api/version")
    authed = build_request(
        "GET", host, "/api/v1/auths/", headers={"Authorization": f"Bearer {key}"}
    )
    # Interleave the two in rounds so drift (CPU frequency, GC) hits both alike.
    base, auth = [], []
    for _ in range(3):
        base.append(
            await closed_loop(host, int(port), public, concurrency=1, requests=requests // 3)
        )
        auth.append(
            await closed_loop(host, int(port), authed, concurrency=1, requests=requests // 3)
        )
    assert all(r.errors == 0 for r in base + auth), "some requests failed"
    b = sorted(x for r in base for x in r.latencies)
    a = sorted(x for r in auth for x in r.latencies)
    pct = lambda data, q: data[min(len(data) - 1, int(q * len(data)))] * 1000  # noqa: E731
    print(f"requests per endpoint: {len(b)}, concurrency 1, keep-alive")
    print(row("p50 (unauthenticated -> API key)", pct(b, 0.5), pct(a, 0.5)))
    print(row("p99 (unauthenticated -> API key)", pct(b, 0.99), pct(a, 0.99)))
    print(f"authentication adds {pct(a, 0.5) - pct(b, 0.5):.3f} ms at p50 (target <= 0.3 ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    with wayline_server() as url:
        asyncio.run(measure(url, admin_key(url), args.requests))


if __name__ == "__main__":
    main()
