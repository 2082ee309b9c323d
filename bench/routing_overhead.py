"""What routing adds to a chat call when nothing fails, in process (no network, no server).

The same stub provider is called directly and through `providers.routing.Router` (one
deployment; two, weighted; two, least-busy), non-streamed and streamed (a 200-chunk body sent
to a sink through the response's own ASGI call, so the `in_flight` accounting is included).
Prints microseconds per call, median of rounds; the difference is the router's cost on the
chat hot path.

    python bench/routing_overhead.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response, StreamingResponse

from wayline.core.bus import LocalBus
from wayline.core.settings import Settings
from wayline.providers.base import ChatCall
from wayline.providers.connections import Connection
from wayline.providers.cooldowns import CooldownBoard
from wayline.providers.deployments import Deployments
from wayline.providers.entries import ModelEntry
from wayline.providers.routing import Router
from wayline.users.schemas import UserInfo

CHUNK = b'data: {"choices":[{"delta":{"content":" lorem"}}]}\n\n'


class StubProvider:
    kind = "stub"

    async def chat(self, call: ChatCall) -> Response:
        if not call.stream:
            return Response(b"{}", media_type="application/json")

        async def body() -> AsyncIterator[bytes]:
            for _ in range(200):
                yield CHUNK

        return StreamingResponse(body(), media_type="text/event-stream")


class StubProviders:
    def __init__(self) -> None:
        self.stub = StubProvider()

    def of(self, kind: str) -> StubProvider:
        return self.stub


class StubRegistry:
    providers = StubProviders()


def entry(deployments: int) -> ModelEntry:
    conns = [Connection("stub", i, f"http://127.0.0.{i + 1}/v1") for i in range(deployments)]
    return ModelEntry("m", "stub", {}, conns[0], "m", alternates=tuple(conns[1:]))


SCOPE = {"type": "http", "asgi": {"spec_version": "2.4"}}


async def receive() -> Any:
    return {"type": "http.disconnect"}


async def send(message: Any) -> None:
    return None


async def drain(response: Response) -> None:
    """Sent as the server sends it (to a sink): the stream is read through to its end."""
    await response(SCOPE, receive, send)


async def per_call(
    answer: Callable[[ChatCall], Awaitable[Response]], call: ChatCall, n: int
) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await drain(await answer(call))
    return (time.perf_counter() - started) / n * 1e6


async def main(calls: int) -> None:
    user = UserInfo("u", "u@example.com", "U", "admin", "", 0, 0, 0, 0)
    provider = StubRegistry.providers.stub
    cases: list[tuple[str, Any, int]] = [
        ("one deployment", "simple-shuffle", 1),
        ("two, simple-shuffle", "simple-shuffle", 2),
        ("two, least-busy", "least-busy", 2),
    ]
    for stream in (False, True):
        print(f"{'streamed (200 chunks)' if stream else 'non-streamed'}: µs per call")
        for label, strategy, count in cases:
            settings = Settings(MODEL_ROUTING_STRATEGY=strategy, ENV="test")
            router = Router(
                settings,
                StubRegistry(),  # type: ignore[arg-type]
                Deployments(),
                CooldownBoard(LocalBus()),
            )
            call = ChatCall(entry(count), {"model": "m"}, stream, user)
            direct, routed = [], []
            for _ in range(7):
                direct.append(await per_call(provider.chat, call, calls))
                routed.append(await per_call(router.chat, call, calls))
            d, r = statistics.median(direct), statistics.median(routed)
            print(f"  {label:<22} direct {d:7.2f}   routed {r:7.2f}   added {r - d:+6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    asyncio.run(main(parser.parse_args().calls))
