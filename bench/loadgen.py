"""A small closed-loop HTTP/1.1 load generator on raw asyncio streams.

It keeps one keep-alive connection per virtual user and does almost no work per
request (no header objects, no JSON), so on two cores it is not the bottleneck
for the figures the benchmarks compare. Shared by every script in `bench/`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field


def build_request(
    method: str, host: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(
    reader: asyncio.StreamReader, on_first_body_byte: list[float] | None = None
) -> tuple[int, bytes]:
    """Read one response; returns (status, body). Handles Content-Length and chunked bodies."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size and on_first_body_byte is not None and not on_first_body_byte:
                on_first_body_byte.append(time.perf_counter())
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]
    start = lower.find(b"content-length:")
    length = int(lower[start + 15 : lower.find(b"\r\n", start)]) if start >= 0 else 0
    body = await reader.readexactly(length)
    if on_first_body_byte is not None and not on_first_body_byte:
        on_first_body_byte.append(time.perf_counter())
    return status, body


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(q * len(data)))] * 1000

    @property
    def p50(self) -> float:
        return self.pct(0.50)

    @property
    def p99(self) -> float:
        return self.pct(0.99)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")


async def closed_loop(
    host: str, port: int, request: bytes, *, concurrency: int, requests: int, warmup: int = 50
) -> Result:
    """`concurrency` connections, each sending the next request when the last answer is complete."""
    result = Result()
    remaining = requests

    async def user() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for _ in range(max(1, warmup // concurrency)):
                writer.write(request)
                await read_response(reader)
            await started.wait()
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                writer.write(request)
                status, _ = await read_response(reader)
                result.latencies.append(time.perf_counter() - t0)
                if status >= 400:
                    result.errors += 1
        finally:
            writer.close()

    started = asyncio.Event()
    tasks = [asyncio.create_task(user()) for _ in range(concurrency)]
    await asyncio.sleep(0.2 + 0.01 * concurrency)  # let every connection warm up
    t0 = time.perf_counter()
    started.set()
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - t0
    return result


async def stream_timings(
    host: str, port: int, request: bytes, *, runs: int
) -> tuple[list[float], list[float]]:
    """Time to first body byte and total time of a streamed response, sequentially."""
    ttft: list[float] = []
    total: list[float] = []
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for i in range(runs + 5):
            first: list[float] = []
            t0 = time.perf_counter()
            writer.write(request)
            await read_response(reader, first)
            end = time.perf_counter()
            if i >= 5:  # warm-up
                ttft.append((first[0] if first else end) - t0)
                total.append(end - t0)
    finally:
        writer.close()
    return ttft, total


def row(label: str, direct: float, gateway: float, unit: str = "ms") -> str:
    ratio = gateway / direct if direct else float("nan")
    return (
        f"{label:<44} direct {direct:9.3f} {unit:<5} gateway {gateway:9.3f} {unit:<5} "
        f"ratio {ratio:6.2f}  (+{gateway - direct:.3f})"
    )
