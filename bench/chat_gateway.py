"""The gateway's overhead: the fake upstream alone ("direct") versus Wayline in front of it.

One run starts the fake upstream (tests/fakes/upstream.py, its own process) and a real
`wayline serve` (default settings, pointed at the fake), then measures with the raw
asyncio keep-alive client of `loadgen.py`:

- non-stream chat, closed loop, concurrency 1, 8, 32: p50 / p99 latency and requests/s;
- a 200-token stream at 0 ms/token: time to first byte and total time (sequential);
- `GET /api/models` (direct: the fake's `/v1/models`) p50.

    python bench/chat_gateway.py [--requests 3000] [--model gpt-4o-mini]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import admin_key, free_port, wayline_server  # noqa: E402
from loadgen import build_request, closed_loop, row, stream_timings  # noqa: E402


def start_fake() -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstream", "--port", str(port), "--no-record"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the port, printed once the server listens
    return proc, port


def chat_body(model: str, stream: bool = False, tokens: int | None = None) -> bytes:
    body = f'{{"model":"{model}","messages":[{{"role":"user","content":"Why is the sky blue?"}}]'
    body += ',"stream":true' if stream else ',"stream":false'
    if tokens:
        body += f',"max_tokens":{tokens}'
    return (body + "}").encode()


async def measure(fake_port: int, url: str, key: str, model: str, requests: int) -> None:
    host, port_s = url.removeprefix("http://").split(":")
    gw_port = int(port_s)
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    json_ct = {"Content-Type": "application/json"}
    # Direct = the same request in the upstream's own dialect
    # (Ollama's /api/chat for Ollama models).
    direct_path = "/api/chat" if ":" in model else "/v1/chat/completions"
    direct_chat = build_request("POST", host, direct_path, chat_body(model), json_ct)
    gw_chat = build_request("POST", host, "/api/chat/completions", chat_body(model), auth)

    print(
        f"model {model}; {requests} requests per point; the fake upstream, wayline and this "
        "client are separate processes sharing the machine's cores\n"
    )
    # fill the credential cache before concurrent load
    await closed_loop(host, gw_port, gw_chat, concurrency=1, requests=20)
    for c in (1, 8, 32):
        d = await closed_loop(host, fake_port, direct_chat, concurrency=c, requests=requests)
        g = await closed_loop(host, gw_port, gw_chat, concurrency=c, requests=requests)
        assert d.errors == 0 and g.errors == 0, f"errors: direct {d.errors}, gateway {g.errors}"
        print(row(f"chat c={c} p50", d.p50, g.p50))
        print(row(f"chat c={c} p99", d.p99, g.p99))
        print(row(f"chat c={c} throughput", d.rps, g.rps, "req/s"))

    runs = max(50, requests // 20)
    direct_stream = build_request("POST", host, direct_path, chat_body(model, True, 200), json_ct)
    gw_stream = build_request(
        "POST", host, "/api/chat/completions", chat_body(model, True, 200), auth
    )
    # Alternate direct and gateway in rounds so drift (other load, CPU frequency) hits both alike.
    d_ttft, d_total, g_ttft, g_total = [], [], [], []
    for _ in range(5):
        t, tot = await stream_timings(host, fake_port, direct_stream, runs=runs // 5)
        d_ttft += t
        d_total += tot
        t, tot = await stream_timings(host, gw_port, gw_stream, runs=runs // 5)
        g_ttft += t
        g_total += tot
    print(
        row(
            "stream 200 tokens: time to first byte p50",
            statistics.median(d_ttft) * 1000,
            statistics.median(g_ttft) * 1000,
        )
    )
    print(
        row(
            "stream 200 tokens: total p50",
            statistics.median(d_total) * 1000,
            statistics.median(g_total) * 1000,
        )
    )

    d = await closed_loop(
        host,
        fake_port,
        build_request("GET", host, "/v1/models"),
        concurrency=1,
        requests=requests // 2,
    )
    g = await closed_loop(
        host,
        gw_port,
        build_request("GET", host, "/api/models", headers=auth),
        concurrency=1,
        requests=requests // 2,
    )
    print(row("GET models p50 (/v1/models vs /api/models)", d.p50, g.p50))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument(
        "--model",
        default="gpt-4o-mini",
        help="gpt-4o-mini (OpenAI pass-through) or llama3.1:latest (Ollama)",
    )
    args = parser.parse_args()
    fake, fake_port = start_fake()
    try:
        fake_url = f"http://127.0.0.1:{fake_port}"
        with wayline_server(
            OPENAI_API_BASE_URLS=f"{fake_url}/v1",
            OPENAI_API_KEYS="sk-bench",
            OLLAMA_BASE_URLS=fake_url,
        ) as url:
            asyncio.run(measure(fake_port, url, admin_key(url), args.model, args.requests))
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
