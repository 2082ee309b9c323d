"""The chat playground and knowledge pages through the real app: who may see them, what they
show, and that names reach the page as text (escaped), never as markup."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
# A file name keeps no path: the upload keeps what follows the last slash.
FILE_EVIL = "<img src=x onerror=alert(1)>.txt"
FILE_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;.txt"
PAGES = ("/", "/knowledge", "/knowledge/some-id", "/knowledge/some-id/files", "/files/some-id")


def as_user(who: Account) -> dict[str, str]:
    """The browser's credential: the `token` cookie."""
    return {"Cookie": f"token={who.token}"}


def collection(client: TestClient, who: Account, name: str, description: str = "") -> str:
    resp = client.post(
        "/api/v1/knowledge/create",
        json={"name": name, "description": description},
        headers=who.headers,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def upload(client: TestClient, who: Account, name: str, data: bytes, knowledge_id: str) -> str:
    resp = client.post(
        "/api/v1/files/",
        files={"file": (name, data, "text/plain")},
        data={"metadata": f'{{"knowledge_id": "{knowledge_id}"}}'},
        headers=who.headers,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def wait_done(client: TestClient, who: Account, file_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/files/{file_id}/process/status", headers=who.headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"file {file_id} still {body}")


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_a_stranger_to_sign_in(client: TestClient, admin: Account, path: str) -> None:
    resp = client.get(path, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/auth"
    resp = client.get(path, headers={"Cookie": "token=not-a-token"}, follow_redirects=False)
    assert resp.headers["location"] == "/auth"


def test_chat_page_has_its_labelled_controls(client: TestClient, alice: Account) -> None:
    resp = client.get("/", headers=as_user(alice))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    page = resp.text
    for control in ("chat-model", "chat-temperature", "chat-system", "chat-prompt", "chat-attach"):
        assert re.search(rf"<label[^>]*>[^<]+<(select|input|textarea) id=\"{control}\"", page), (
            control
        )
    for button in ("Send", "Stop", "Attach", "New chat"):
        assert re.search(rf"<button [^>]*>{button}</button>", page), button
    for script in ("api-errors.js", "markdown.js", "chat.js"):
        assert f"/static/{script}?v=" in page
    assert "<script>" not in page  # no inline script (the CSP would refuse it)
    assert 'aria-current="page">Chat<' in page


def test_static_scripts_are_served(client: TestClient) -> None:
    for name in ("chat.js", "knowledge.js", "markdown.js", "api-errors.js", "chat.css"):
        resp = client.get(f"/static/{name}")
        assert resp.status_code == 200, name
        assert len(resp.content) > 500, name


def test_knowledge_pages_show_names_as_text(client: TestClient, alice: Account) -> None:
    kid = collection(client, alice, EVIL, description=f"about {EVIL}")
    listing = client.get("/knowledge", headers=as_user(alice))
    assert listing.status_code == 200
    assert f'<a href="/knowledge/{kid}">{ESCAPED}</a>' in listing.text
    assert f"about {ESCAPED}" in listing.text
    assert "<script>alert" not in listing.text and "<img src=x" not in listing.text

    detail = client.get(f"/knowledge/{kid}", headers=as_user(alice))
    assert detail.status_code == 200
    assert f"<h1>{ESCAPED}</h1>" in detail.text
    assert f'data-knowledge-id="{kid}"' in detail.text  # the owner may upload
    assert "<script>alert" not in detail.text and "<img src=x" not in detail.text


def test_collection_page_lists_its_files_by_name(client: TestClient, alice: Account) -> None:
    kid = collection(client, alice, "Manuals")
    file_id = upload(client, alice, FILE_EVIL, b"The pump primes in ten seconds.", kid)
    assert wait_done(client, alice, file_id)["status"] == "completed"
    for path in (f"/knowledge/{kid}", f"/knowledge/{kid}/files"):
        page = client.get(path, headers=as_user(alice)).text
        assert f'<a href="/files/{file_id}">{FILE_ESCAPED}</a>' in page
        assert f'aria-label="Remove {FILE_ESCAPED}"' in page
        assert "<script>alert" not in page and "<img src=x" not in page
    fragment = client.get(f"/knowledge/{kid}/files", headers=as_user(alice)).text
    assert "<html" not in fragment  # a fragment for the htmx swap, not a page

    page = client.get(f"/files/{file_id}", headers=as_user(alice))
    assert page.status_code == 200
    assert f"<h1>{FILE_ESCAPED}</h1>" in page.text
    assert 'data-status="completed"' in page.text
    assert re.search(r'<progress aria-label="Chunks indexed" max="(\d+)" value="\1">', page.text)


def test_failed_file_page_shows_its_reason(client: TestClient, alice: Account) -> None:
    resp = client.post(
        "/api/v1/files/",
        files={"file": ("noise.bin", bytes(range(256)) * 64, "application/octet-stream")},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    file_id = resp.json()["id"]
    status = wait_done(client, alice, file_id)
    assert status["status"] == "failed" and status["error"]
    page = client.get(f"/files/{file_id}", headers=as_user(alice)).text
    assert 'data-status="failed"' in page
    reason = re.search(r'<p class="error reason" role="alert" >Failed: ([^<]+)</p>', page)
    assert reason is not None, page
    assert reason.group(1).strip()


def test_another_users_collection_and_file_are_not_found(
    client: TestClient, alice: Account, bob: Account
) -> None:
    kid = collection(client, alice, "Alice's secret plans")
    file_id = upload(client, alice, "plans.txt", b"Plan A: tea at noon.", kid)
    wait_done(client, alice, file_id)
    for path in (f"/knowledge/{kid}", f"/knowledge/{kid}/files", f"/files/{file_id}"):
        resp = client.get(path, headers=as_user(bob))
        assert resp.status_code == 404, path
        assert resp.headers["content-type"].startswith("text/html")
        assert "secret plans" not in resp.text and "plans.txt" not in resp.text
        assert "Not found" in resp.text
    listing = client.get("/knowledge", headers=as_user(bob)).text
    assert "secret plans" not in listing
    assert "No collection yet" in listing
