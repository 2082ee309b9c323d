"""Browser journeys through the chat playground and the knowledge pages (Playwright + Debian's
chromium, a live `wayline serve` in front of the fake upstream)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer
from tests.e2e.web_browser import screenshot
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

UNIQUE = "The lighthouse keeper of Port Quillon logs every ship in a ledger bound with sealskin."
CHAT = "/v1/chat/completions"


def sign_in(page: Any) -> dict[str, str]:
    """The first account (the admin), signed in in this page's browser context."""
    resp = page.request.post(
        "/api/v1/auths/signup",
        data={"name": "Ada", "email": "ada@example.com", "password": "pw-ada-123"},
    )
    assert resp.ok, resp.text()
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def collection_with(page: Any, auth: dict[str, str], name: str, filename: str, text: str) -> str:
    made = page.request.post("/api/v1/knowledge/create", data={"name": name}, headers=auth)
    assert made.ok, made.text()
    kid = made.json()["id"]
    up = page.request.post(
        "/api/v1/files/",
        multipart={
            "file": {"name": filename, "mimeType": "text/plain", "buffer": text.encode()},
            "metadata": f'{{"knowledge_id": "{kid}"}}',
        },
        headers=auth,
    )
    assert up.ok, up.text()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = page.request.get(
            f"/api/v1/files/{up.json()['id']}/process/status", headers=auth
        ).json()
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert status["status"] == "completed", status
    return kid


def test_streaming_chat_with_a_collection_shows_its_sources(
    page: Any, web_server: LiveServer, fake_upstream: FakeUpstream
) -> None:
    auth = sign_in(page)
    collection_with(page, auth, "Lighthouse notes", "ledger.txt", UNIQUE)
    page.goto("/")
    page.get_by_label("Model").select_option("gpt-4o-mini")
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_text("System prompt and attachments").click()
    page.get_by_label("System prompt").fill("Answer in one line.")
    page.get_by_label("Attach a file or collection").select_option(label="Lighthouse notes")
    page.get_by_role("button", name="Attach").click()
    attached = page.get_by_role("list", name="Attached")
    expect(attached).to_contain_text("Collection: Lighthouse notes")

    # The fake echoes the question: its markdown comes back to be rendered, its markup as text.
    question = "Who keeps the **ledger**? Say `ship` <img src=x onerror=alert(1)>"
    page.get_by_label("Message").fill(question)
    page.get_by_role("button", name="Send").click()

    answer = page.locator("#chat-log article.assistant").last
    sources = answer.get_by_role("region", name="Sources")
    expect(sources).to_contain_text("ledger.txt")
    # (the echo holds the RAG template too, with its own bold text)
    expect(answer.locator(".content strong").filter(has_text=re.compile("^ledger$"))).to_have_count(
        1
    )
    expect(answer.locator(".content code").filter(has_text=re.compile("^ship$"))).to_have_count(1)
    expect(answer.locator(".content")).to_contain_text("<img src=x onerror=alert(1)>")
    assert answer.locator(".content img").count() == 0
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    # The sources sit under the answer, and open to the excerpt the model was given.
    assert answer.evaluate(
        "a => a.querySelector('.content').compareDocumentPosition(a.querySelector('.sources'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    sources.get_by_text("ledger.txt").click()
    expect(sources).to_contain_text("bound with sealskin")
    screenshot(page, "web-chat")

    sent = fake_upstream.last(CHAT).json
    assert sent["stream"] is True
    assert sent["temperature"] == 0.3
    assert sent["messages"][0] == {"role": "system", "content": "Answer in one line."}
    assert any(UNIQUE in str(m["content"]) for m in sent["messages"])  # the RAG context

    # A second turn carries the first one as history.
    page.get_by_label("Message").fill("And then?")
    page.get_by_label("Message").press("Enter")
    expect(page.locator("#chat-log article.assistant")).to_have_count(2)
    expect(page.locator("#chat-log article.assistant").last).to_contain_text("And then?")
    roles = [m["role"] for m in fake_upstream.last(CHAT).json["messages"]]
    assert roles[-3:] == ["user", "assistant", "user"]


def test_stop_cancels_a_slow_answer(
    page: Any, web_server: LiveServer, fake_upstream: FakeUpstream
) -> None:
    sign_in(page)
    # The fake sends a few tokens, then holds the stream open.
    fake_upstream.fail(path=CHAT, mode="stall", after=3)
    page.goto("/")
    page.get_by_label("Model").select_option("gpt-4o-mini")
    page.get_by_label("Message").fill("tell me a very long story about the sea")
    page.get_by_role("button", name="Send").click()

    answer = page.locator("#chat-log article.assistant").last
    expect(answer.locator(".content")).to_contain_text("Echo:")  # shown while it streams
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_enabled()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    stop.click()
    expect(answer).to_contain_text("Stopped.")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    expect(stop).to_be_disabled()
    assert fake_upstream.wait_disconnect(10), "the upstream request was not cancelled"
    assert "story about the sea" not in answer.locator(".content").inner_text()
    screenshot(page, "web-chat-stopped")

    # An upstream's refusal is said in words under the answer, never shown as JSON.
    fake_upstream.reset()
    fake_upstream.fail(path=CHAT, status=400, message="context length exceeded", times=1)
    page.get_by_label("Message").fill("one more")
    page.get_by_role("button", name="Send").click()
    refusal = page.locator("#chat-log article.assistant").last.get_by_role("alert")
    expect(refusal).to_contain_text("context length exceeded")
    assert "{" not in refusal.inner_text()

    # A phone in the dark: nothing wider than the screen, the dark palette applied.
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 21, 24)", background
    screenshot(page, "web-chat-phone-dark")


def test_upload_shows_progress_then_completed_or_failed(
    page: Any, web_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page)
    page.goto("/knowledge")
    page.get_by_label("Name").fill("Harbour manuals")
    page.get_by_role("button", name="Create collection").click()
    expect(page.get_by_role("heading", name="Harbour manuals", level=1)).to_be_visible()

    texts = []
    for topic in ("tides", "buoys", "cranes"):
        path = tmp_path / f"{topic}.md"
        body = "\n\n".join(
            f"## {topic.title()} {j}\n\nSection {j} on {topic}: " + "word " * 150 for j in range(4)
        )
        path.write_text(body)
        texts.append(path)
    page.get_by_label("Choose files").set_input_files([str(p) for p in texts])

    # A fourth file, dropped on the drop zone: bytes no extractor can read.
    page.evaluate(
        """() => {
            const bytes = new Uint8Array(4096).map((_, i) => (i * 73 + 11) % 256);
            const data = new DataTransfer();
            data.items.add(new File([bytes], "noise.bin", { type: "application/octet-stream" }));
            const zone = document.getElementById("dropzone");
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
        }"""
    )
    uploads = page.get_by_role("list", name="Uploads")
    for name in ("tides.md", "buoys.md", "cranes.md"):
        row = uploads.get_by_role("listitem").filter(has_text=name)
        expect(row.get_by_role("status")).to_have_text(
            re.compile(r"^Completed: \d+ chunks indexed$"), timeout=60_000
        )
        bar = row.get_by_role("progressbar", name=f"Progress of {name}")
        assert bar.get_attribute("value") == bar.get_attribute("max")
    failed = uploads.get_by_role("listitem").filter(has_text="noise.bin")
    expect(failed.get_by_role("status")).to_have_text(re.compile(r"^Failed: \S.+"), timeout=60_000)
    reason = failed.get_by_role("status").inner_text().removeprefix("Failed: ")
    assert reason != "no reason given"

    table = page.get_by_role("table", name="Files in Harbour manuals")
    for name in ("tides.md", "buoys.md", "cranes.md"):
        expect(table.get_by_role("link", name=name)).to_be_visible()
    expect(table.get_by_role("link", name="noise.bin")).to_have_count(0)
    screenshot(page, "web-knowledge-upload")

    page.once("dialog", lambda dialog: dialog.accept())
    table.get_by_role("button", name="Remove buoys.md").click()
    expect(table.get_by_role("link", name="buoys.md")).to_have_count(0)
    expect(table.get_by_role("link", name="tides.md")).to_be_visible()

    # The failed file's own page says why.
    failed.get_by_role("link", name="noise.bin").click()
    expect(page.get_by_role("heading", name="noise.bin", level=1)).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(f"Failed: {reason}")
    screenshot(page, "web-file-failed")


def test_markdown_renders_as_elements_and_never_as_markup(page: Any) -> None:
    """The playground's renderer (static/markdown.js), fed what a model might write."""
    sign_in(page)
    page.goto("/")

    def html(source: str) -> str:
        return page.evaluate(
            "src => { const d = document.createElement('div');"
            " window.WaylineMarkdown.render(d, src); return d.innerHTML; }",
            source,
        )

    assert html("```py\nprint('<b>hi</b>')\n```") == (
        '<pre><code class="language-py" data-lang="py">'
        "print('&lt;b&gt;hi&lt;/b&gt;')</code></pre>"
    )
    # A fence still streaming (not closed yet) is code to the end.
    assert html("Look:\n```\nx = 1") == "<p>Look:</p><pre><code>x = 1</code></pre>"
    assert html("**bold _and italic_** and `a<b`") == (
        "<p><strong>bold <em>and italic</em></strong> and <code>a&lt;b</code></p>"
    )
    assert html("- one\n- two\n\n1. first\n2. second") == (
        "<ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>"
    )
    assert html("# Title\n> quoted") == "<h3>Title</h3><blockquote><p>quoted</p></blockquote>"
    link = html("[docs](https://example.com/a?b=1)")
    assert link == (
        '<p><a href="https://example.com/a?b=1" rel="noopener noreferrer nofollow"'
        ' target="_blank">docs</a></p>'
    )
    # Only http(s) links: any other scheme stays text, and raw HTML is only ever text.
    for evil in ("[x](javascript:alert(1))", "[x](data:text/html,<script>alert(1)</script>)"):
        assert "<a" not in html(evil)
    assert html('<img src=x onerror="alert(1)"><script>alert(2)</script>') == (
        '<p>&lt;img src=x onerror="alert(1)"&gt;&lt;script&gt;alert(2)&lt;/script&gt;</p>'
    )
