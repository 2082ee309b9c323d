"""The usage ledger of a real `wayline serve`: records wait in memory (here the periodic flush is
an hour away), 50 concurrent calls make exactly 50 records, and SIGTERM writes them before the
process exits, so a restarted server reports them all."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import LiveServer, signup
from tests.fakes.upstream import FakeUpstream, _reply_tokens, message_text

pytestmark = pytest.mark.e2e

CALLS = 50


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Question number {i}: " + "why " * (i % 7)}]


def model(i: int) -> str:
    """Every other call streams (`i` even); the OpenAI and the Ollama model alternate too."""
    return "gpt-4o-mini" if i % 4 < 2 else "llama3.1:latest"


def expected(i: int) -> tuple[int, int]:
    """(prompt, completion) tokens as the fake upstream counts call `i`."""
    sent = messages(i)
    tokens, _ = _reply_tokens({"messages": sent})
    return sum(len(message_text(m).split()) for m in sent), len(tokens)


async def _chats(url: str, headers: dict[str, str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:

        async def call(i: int) -> httpx.Response:
            body = {"model": model(i), "messages": messages(i), "stream": i % 2 == 0}
            return await http.post("/api/chat/completions", json=body)

        return await asyncio.gather(*(call(i) for i in range(CALLS)))


def test_sigterm_writes_the_queued_records_and_50_concurrent_calls_make_50(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> None:
    env = {
        "OPENAI_API_BASE_URLS": fake_upstream.openai_url,
        "OPENAI_API_KEYS": "sk-fake-upstream",
        "OLLAMA_BASE_URLS": fake_upstream.ollama_url,
        "USAGE_FLUSH_INTERVAL": "3600",  # only a full batch (500) or the shutdown writes
        "GRACEFUL_SHUTDOWN_TIMEOUT": "20",
    }
    server = live_server_factory(**env)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        admin = signup(http, "Admin")
        alice = signup(http, "Alice", admin=admin)
    answers = asyncio.run(_chats(server.url, alice.headers))
    assert [a.status_code for a in answers] == [200] * CALLS, [a.text for a in answers[:3]]

    waiting = httpx.get(f"{server.url}/api/v1/usage", headers=alice.headers, timeout=10)
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["totals"]["requests"] == 0  # queued, not written on the request path

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0

    again = live_server_factory(**env)
    totals = httpx.get(f"{again.url}/api/v1/usage", headers=alice.headers, timeout=10).json()
    prompt = sum(expected(i)[0] for i in range(CALLS))
    completion = sum(expected(i)[1] for i in range(CALLS))
    assert totals["totals"]["requests"] == CALLS
    assert totals["totals"]["errors"] == 0
    assert (totals["totals"]["prompt_tokens"], totals["totals"]["completion_tokens"]) == (
        prompt,
        completion,
    )
    models = {row["model"]: row["requests"] for row in totals["data"]}
    assert models == {m: [model(i) for i in range(CALLS)].count(m) for m in models}
    assert set(models) == {"gpt-4o-mini", "llama3.1:latest"}
