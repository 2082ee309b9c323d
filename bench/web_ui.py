"""The chat playground in headless Chromium (Debian's `/usr/bin/chromium`, driven by Playwright)
against a real `wayline serve` in front of the fake upstream:

- page weight: the HTML, JS and CSS the chat page loads, as transferred and decoded (goal:
  <= 100 KB compressed);
- time to first paint of the chat page (`performance.getEntriesByName('first-paint')`), each
  load in a fresh browser context (nothing cached);
- the playground's added time to first token: from the Send click to the first answer text in
  the page ("gateway" below), beside a `fetch` from the same page straight to
  `/api/chat/completions` reading its first content chunk ("direct"), alternated (goal: the
  difference <= 5 ms at p50).

    python bench/web_ui.py [--loads 10] [--turns 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import wayline_server
from chat_gateway import start_fake
from loadgen import row

CHROMIUM = "/usr/bin/chromium"
MODEL = "gpt-4o-mini"
PROMPT = "Why is the sky blue?"

# Click Send, resolve at the first answer text in the log (a MutationObserver: the page's own
# code is not asked when it is done), then wait for the end of the answer and clear the chat.
PLAYGROUND_TURN = """async (prompt) => {
  const log = document.getElementById("chat-log");
  const first = new Promise((resolve) => {
    const seen = new MutationObserver(() => {
      const answer = log.querySelector("article.assistant .content");
      if (answer && answer.textContent) { seen.disconnect(); resolve(performance.now()); }
    });
    seen.observe(log, { childList: true, subtree: true, characterData: true });
  });
  document.getElementById("chat-prompt").value = prompt;
  const started = performance.now();
  document.getElementById("chat-send").click();
  const shown = await first;
  while (document.getElementById("chat-send").disabled) await new Promise((r) => setTimeout(r, 5));
  document.getElementById("chat-clear").click();
  return shown - started;
}"""

# The same request from the same page, read until its first content delta.
DIRECT_TURN = """async ([model, prompt]) => {
  const started = performance.now();
  const resp = await fetch("/api/chat/completions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: prompt }] }),
  });
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let text = "", at = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (at === null && /"content":"[^"]/.test(text)) at = performance.now();
  }
  return at - started;
}"""


def page_weight(browser: Any, url: str, token: str) -> tuple[int, int, list[str]]:
    """(bytes of HTML, JS and CSS as the chat page receives them, i.e. compressed where the
    server compresses; the same decoded), and one line per resource."""
    context = browser.new_context(base_url=url)
    context.add_cookies([{"name": "token", "value": token, "url": url}])
    page = context.new_page()
    responses: list[Any] = []
    page.on(
        "response",
        lambda r: (
            responses.append(r)
            if r.request.resource_type in ("document", "script", "stylesheet")
            else None
        ),
    )
    page.goto("/", wait_until="networkidle")
    bodies = [(r.url, r.body(), r.request.sizes()["responseBodySize"]) for r in responses]
    context.close()
    raw = sum(len(b) for _, b, _ in bodies)
    sent = sum(size for _, _, size in bodies)
    names = [
        f"{u.removeprefix(url).split('?')[0]} {size / 1024:.1f} KB ({len(b) / 1024:.1f} KB decoded)"
        for u, b, size in bodies
    ]
    return sent, raw, names


def first_paints(browser: Any, url: str, token: str, loads: int) -> list[float]:
    paints = []
    for _ in range(loads):
        context = browser.new_context(base_url=url)
        context.add_cookies([{"name": "token", "value": token, "url": url}])
        page = context.new_page()
        page.goto("/", wait_until="load")
        paints.append(
            page.evaluate(
                """() => new Promise((resolve) => {
                  const hit = () => performance.getEntriesByName("first-paint")[0];
                  const poll = () => hit() ? resolve(hit().startTime) : setTimeout(poll, 10);
                  poll();
                })"""
            )
        )
        context.close()
    return paints


def first_tokens(browser: Any, url: str, token: str, turns: int) -> tuple[list[float], list[float]]:
    context = browser.new_context(base_url=url)
    context.add_cookies([{"name": "token", "value": token, "url": url}])
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Model").select_option(MODEL)
    for _ in range(5):  # warm up both paths (connections, JIT, the server's caches)
        page.evaluate(PLAYGROUND_TURN, PROMPT)
        page.evaluate(DIRECT_TURN, [MODEL, PROMPT])
    ui, direct = [], []
    for i in range(turns):
        # Alternate which goes first, so drift hits both alike.
        if i % 2:
            ui.append(page.evaluate(PLAYGROUND_TURN, PROMPT))
            direct.append(page.evaluate(DIRECT_TURN, [MODEL, PROMPT]))
        else:
            direct.append(page.evaluate(DIRECT_TURN, [MODEL, PROMPT]))
            ui.append(page.evaluate(PLAYGROUND_TURN, PROMPT))
    context.close()
    return direct, ui


def pct(data: list[float], q: float) -> float:
    ordered = sorted(data)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=10, help="cold page loads for first paint")
    parser.add_argument("--turns", type=int, default=60, help="chat turns per path")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    fake, fake_port = start_fake()
    try:
        fake_url = f"http://127.0.0.1:{fake_port}"
        with (
            wayline_server(
                OPENAI_API_BASE_URLS=f"{fake_url}/v1",
                OPENAI_API_KEYS="sk-bench",
                ENABLE_OLLAMA_API="false",
            ) as url,
            sync_playwright() as playwright,
        ):
            token = httpx.post(
                url + "/api/v1/auths/signup",
                json={"name": "Bench", "email": "bench@example.com", "password": "bench-pw"},
            ).json()["token"]
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            sent, raw, names = page_weight(browser, url, token)
            print("chat page resources: " + ", ".join(names))
            print(
                f"page weight (HTML+JS+CSS) {sent / 1024:.1f} KB transferred "
                f"({raw / 1024:.1f} KB decoded; goal <= 100 KB compressed)"
            )
            paints = first_paints(browser, url, token, args.loads)
            print(
                f"first paint of the chat page, {args.loads} cold loads: "
                f"p50 {statistics.median(paints):.1f} ms, max {max(paints):.1f} ms"
            )
            direct, ui = first_tokens(browser, url, token, args.turns)
            print(f"time to first token, {args.turns} turns each, alternated, concurrency 1:")
            print(row("first token p50 (fetch -> playground)", pct(direct, 0.5), pct(ui, 0.5)))
            print(row("first token p90 (fetch -> playground)", pct(direct, 0.9), pct(ui, 0.9)))
            added = pct(ui, 0.5) - pct(direct, 0.5)
            print(f"the playground adds {added:.2f} ms to the first token at p50 (goal <= 5 ms)")
            browser.close()
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
