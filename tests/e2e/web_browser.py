"""Browser fixtures for the web UI's journeys (tests/e2e/test_web_*.py), re-exported by
tests/e2e/conftest.py.

- `chromium`: Debian's `/usr/bin/chromium` driven by Playwright (its own browser download does not
  work on these machines), headless, one per test module: Playwright's sync API keeps an event
  loop running in the main thread while it is open, and every later `asyncio.run()` would fail.
- `web_server`: a live `wayline serve` whose models come from the fake upstream (OpenAI wire:
  `gpt-4-turbo`, `gpt-4o-mini`, ...).
- `new_page()`: a page in a fresh browser context (its own cookies: one person), `base_url` set to
  `web_server`, so `page.goto("/auth")` works. A page that breaks the Content-Security-Policy or
  throws an uncaught error fails the test at its end.
- `page`: the first such page.
- `screenshot(page, name)`: saves `docs/screenshots/<name>.png` (the README shows them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.fakes.upstream import FakeUpstream

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture
def web_server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        ENABLE_OLLAMA_API="false",
    )


@pytest.fixture
def new_page(chromium: Any, web_server: LiveServer) -> Iterator[Callable[[], Any]]:
    contexts: list[Any] = []
    problems: list[str] = []

    def watch(message: Any) -> None:
        # The CSP's refusals reach the console as errors; so would Alpine evaluating an
        # expression its CSP build cannot (it must never need `unsafe-eval`).
        if message.type == "error" and (
            "Content Security Policy" in message.text or "Alpine" in message.text
        ):
            problems.append(message.text)

    def open_page() -> Any:
        context = chromium.new_context(
            base_url=web_server.url, viewport={"width": 1100, "height": 800}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", watch)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems, problems


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
