"""Gateway control's cost (issue 12): chat through Wayline against the fake upstream direct, in
one run, with `/metrics` on (it always is), one row pair per key configuration.

One run starts the fake upstream (tests/fakes/upstream.py, its own process) and a real
`wayline serve` in front of it. Each key in `KEYS` is made with `POST /api/v1/auths/api_keys`
and that row's body; "direct" is the same chat sent to the fake in its own dialect. Then:
- chat c=1, paired: one request to each target in turn on its own keep-alive connection, the
  order rotating, `--requests` cycles. A key's added p50 is the median of its per-cycle
  differences from direct: a burst of load from elsewhere on the machine hits both members of a
  pair alike, where separate runs differ by ±0.1 ms on a busy 2-core machine.
- chat c=32: `--bursts` short closed-loop bursts per target, the targets alternating; the
  throughput ratio is the median of the per-burst ratios to the direct burst next to it.
At the end the server's own `/metrics`: the chat requests it counted, and the mean and median of
`wayline_gateway_overhead_seconds`, its own view of what it adds (no network hop, no client).

A key configuration is one more row of `KEYS` (for example a key with `rpm_limit`, `tpm_limit`
and a `models` allow-list beside the key without limits); `--redis-url` runs the server with a
shared Redis (bus and, where used, counters) instead of in memory.

    python bench/gateway_control.py [--requests 3000] [--bursts 20] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import admin_key, wayline_server
from chat_gateway import chat_body, start_fake
from loadgen import build_request, closed_loop, read_response, row

HOST = "127.0.0.1"
CHAT = "/api/chat/completions"
DIRECT = "direct"
BURST = 400  # requests per c=32 burst


@dataclass(frozen=True)
class KeyConfig:
    label: str
    body: dict[str, Any]  # of POST /api/v1/auths/api_keys


KEYS = (
    KeyConfig("key without limits", {"name": "bench-plain"}),
    # Every control counted on each request, none ever reached: the cost of checking them.
    KeyConfig(
        "key with rpm/tpm limits and a models allow-list",
        {
            "name": "bench-limited",
            "rpm_limit": 1_000_000_000,
            "tpm_limit": 1_000_000_000_000,
            "models": ["gpt-4o*", "llama3*"],
        },
    ),
)


@dataclass(frozen=True)
class Target:
    port: int
    request: bytes


@dataclass
class Figures:
    """One target's measurements: c=1 latencies (s) and c=32 bursts (req/s), in run order."""

    single: list[float] = field(default_factory=list)
    bursts: list[float] = field(default_factory=list)

    def p50(self) -> float:
        return statistics.median(self.single) * 1000

    def throughput(self) -> float:
        return statistics.median(self.bursts)


def make_key(url: str, admin: str, config: KeyConfig) -> str:
    resp = httpx.post(
        url + "/api/v1/auths/api_keys",
        json=config.body,
        headers={"Authorization": f"Bearer {admin}"},
    )
    resp.raise_for_status()
    return str(resp.json()["api_key"])


def targets_for(
    fake_port: int, gateway_port: int, keys: dict[str, str], model: str
) -> dict[str, Target]:
    # Direct: the same request in the upstream's own dialect (Ollama's /api/chat for its models).
    direct_path = "/api/chat" if ":" in model else "/v1/chat/completions"
    json_type = {"Content-Type": "application/json"}
    targets = {
        DIRECT: Target(
            fake_port, build_request("POST", HOST, direct_path, chat_body(model), json_type)
        )
    }
    for label, key in keys.items():
        headers = {"Authorization": f"Bearer {key}", **json_type}
        targets[label] = Target(
            gateway_port, build_request("POST", HOST, CHAT, chat_body(model), headers)
        )
    return targets


async def paired_single(targets: dict[str, Target], cycles: int) -> dict[str, Figures]:
    """c=1: each cycle sends one request to every target, in an order that rotates."""
    streams = {name: await asyncio.open_connection(HOST, t.port) for name, t in targets.items()}
    figures = {name: Figures() for name in targets}
    names = list(targets)

    async def one(name: str) -> float:
        reader, writer = streams[name]
        started = time.perf_counter()
        writer.write(targets[name].request)
        status, _ = await read_response(reader)
        assert status == 200, f"{name}: HTTP {status}"
        return time.perf_counter() - started

    try:
        for _ in range(50):  # warm-up
            for name in names:
                await one(name)
        for cycle in range(cycles):
            shift = cycle % len(names)
            for name in names[shift:] + names[:shift]:
                figures[name].single.append(await one(name))
    finally:
        for _, writer in streams.values():
            writer.close()
    return figures


async def alternating_bursts(
    targets: dict[str, Target], figures: dict[str, Figures], bursts: int
) -> None:
    """c=32: short closed-loop bursts, each target in turn, the order reversed every other time."""
    names = list(targets)
    for burst in range(bursts):
        for name in names if burst % 2 == 0 else names[::-1]:
            target = targets[name]
            result = await closed_loop(
                HOST, target.port, target.request, concurrency=32, requests=BURST, warmup=32
            )
            assert result.errors == 0, f"{name} c=32: {result.errors} errors"
            figures[name].bursts.append(result.rps)


def report(figures: dict[str, Figures], model: str) -> None:
    direct = figures[DIRECT]
    print(
        f"model {model}; c=1: {len(direct.single)} paired cycles; c=32: {len(direct.bursts)} "
        f"alternating bursts of {BURST}; the fake upstream, wayline and this client share the "
        "machine's cores\n"
    )
    for label, gateway in figures.items():
        if label == DIRECT:
            continue
        added = statistics.median(g - d for g, d in zip(gateway.single, direct.single, strict=True))
        kept = statistics.median(g / d for g, d in zip(gateway.bursts, direct.bursts, strict=True))
        print(label)
        print(row("  chat c=1 p50", direct.p50(), gateway.p50()))
        print(
            row(
                "  chat c=32 throughput (median burst)",
                direct.throughput(),
                gateway.throughput(),
                "req/s",
            )
        )
        print(
            f"  adds {added * 1000:.3f} ms at c=1 (median of paired differences); "
            f"keeps {kept:.0%} of the direct c=32 throughput (median of burst ratios)"
        )
    compare_to_plain(figures)


def compare_to_plain(figures: dict[str, Figures]) -> None:
    """The issue's goal: what a key's controls cost against the key without any (same run)."""
    plain = figures[KEYS[0].label]
    for config in KEYS[1:]:
        keyed = figures[config.label]
        added = statistics.median(k - p for k, p in zip(keyed.single, plain.single, strict=True))
        kept = statistics.median(k / p for k, p in zip(keyed.bursts, plain.bursts, strict=True))
        print(
            f"\n{config.label} against the {KEYS[0].label}: {added * 1000:+.3f} ms p50 at c=1 "
            f"(median of paired differences), {kept:.1%} of its c=32 throughput (median of "
            "burst ratios; goal: at most +0.3 ms and at least 90 % in memory)"
        )


def overhead_from_metrics(url: str, admin: str) -> tuple[float, float, float, float]:
    """(chat requests counted, overhead samples, mean ms, median ms from the buckets)."""
    resp = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {admin}"})
    resp.raise_for_status()
    counted = count = total = 0.0
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            if s.name == "wayline_requests_total" and s.labels == {"route": CHAT, "status": "200"}:
                counted = s.value
            elif s.name == "wayline_gateway_overhead_seconds_count":
                count = s.value
            elif s.name == "wayline_gateway_overhead_seconds_sum":
                total = s.value
            elif s.name == "wayline_gateway_overhead_seconds_bucket":
                buckets.append((float(s.labels["le"]), s.value))
    return counted, count, total / count * 1000 if count else float("nan"), median(buckets, count)


def median(buckets: list[tuple[float, float]], count: float) -> float:
    """The median in ms, interpolated within its bucket as PromQL's histogram_quantile does."""
    below = low = 0.0
    for le, cumulative in sorted(buckets):
        if cumulative >= count / 2 and cumulative > below:
            if le == float("inf"):
                return low * 1000
            return (low + (le - low) * (count / 2 - below) / (cumulative - below)) * 1000
        below, low = cumulative, le
    return float("nan")


async def measure(targets: dict[str, Target], cycles: int, bursts: int) -> dict[str, Figures]:
    figures = await paired_single(targets, cycles)
    await alternating_bursts(targets, figures, bursts)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000, help="c=1 cycles (one per target)")
    parser.add_argument("--bursts", type=int, default=20, help=f"c=32 bursts of {BURST} per target")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--redis-url", default="", help="run the server with this REDIS_URL")
    args = parser.parse_args()
    fake, fake_port = start_fake()
    fake_url = f"http://{HOST}:{fake_port}"
    env = {
        "OPENAI_API_BASE_URLS": f"{fake_url}/v1",
        "OPENAI_API_KEYS": "sk-bench",
        "OLLAMA_BASE_URLS": fake_url,
    }
    if args.redis_url:
        env |= {"REDIS_URL": args.redis_url, "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}"}
    try:
        with wayline_server(**env) as url:
            admin = admin_key(url)
            keys = {config.label: make_key(url, admin, config) for config in KEYS}
            targets = targets_for(fake_port, int(url.rsplit(":", 1)[1]), keys, args.model)
            figures = asyncio.run(measure(targets, args.requests, args.bursts))
            report(figures, args.model)
            counted, samples, mean, p50 = overhead_from_metrics(url, admin)
            print(
                f"\n/metrics: {counted:.0f} chat requests counted; "
                f"wayline_gateway_overhead_seconds over {samples:.0f} requests: "
                f"mean {mean:.3f} ms, median ~{p50:.3f} ms (as histogram_quantile estimates it)"
            )
            print("counters:", "Redis" if args.redis_url else "in memory")
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
