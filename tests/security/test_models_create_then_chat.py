"""Found by the soak: a chat sent right after its preset was created answered 404 when a
model-list rebuild was in progress (the change flag was cleared when the rebuild *started*,
so the request trusted the old list). Many users create and use presets at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tests.conftest import LiveServer, signup
from tests.fakes.upstream import FakeUpstream

USERS = 12
PRESETS = 6


def test_a_preset_answers_right_after_it_is_created(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.models_delay = 0.05  # rebuilds take a while, so requests land during them
    server = live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake",
        DEFAULT_USER_ROLE="user",
    )
    with httpx.Client(base_url=server.url) as http:
        signup(http, "Admin")
        accounts = [signup(http, f"User{i}") for i in range(USERS)]

    async def use_presets(index: int) -> list[str]:
        failures = []
        headers = accounts[index].headers
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http:
            for n in range(PRESETS):
                model = f"p{index}-{n}"
                created = await http.post(
                    "/api/v1/models/create",
                    json={
                        "id": model,
                        "base_model_id": "gpt-4o-mini",
                        "name": model,
                        "params": {"system": "S"},
                    },
                )
                assert created.status_code == 200, created.text
                chat = await http.post(
                    "/api/chat/completions",
                    json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                )
                if chat.status_code != 200:
                    failures.append(f"{model}: {chat.status_code} {chat.text[:120]}")
        return failures

    async def run() -> list[str]:
        return [
            f
            for found in await asyncio.gather(*(use_presets(i) for i in range(USERS)))
            for f in found
        ]

    assert asyncio.run(run()) == []
