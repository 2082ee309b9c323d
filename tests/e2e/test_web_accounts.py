"""Browser journeys through the account pages (Playwright + Debian's chromium, a live server)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer
from tests.e2e.web_browser import screenshot

pytestmark = pytest.mark.e2e


def sign_up(page: Any, name: str, email: str, password: str) -> None:
    page.goto("/auth")
    # The first account's form is titled for the administrator; later ones, "Create an account".
    form = page.get_by_role("form", name=re.compile("Create (the administrator|an) account"))
    form.get_by_label("Name").fill(name)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()


def test_first_sign_up_becomes_admin(page: Any, web_server: LiveServer) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/auth$"))
    expect(page.get_by_role("heading", name="Create the administrator account")).to_be_visible()
    screenshot(page, "sign-up")
    sign_up(page, "Ada", "ada@example.com", "pw-ada-123")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Admin")).to_be_visible()
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "token")
    me = httpx.get(f"{web_server.url}/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "admin"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert httpx.get(f"{web_server.url}/api/v1/auths/", cookies={"token": token}).status_code == 401

    # Keyboard only: the labelled fields in order, Enter submits; a refusal is told in words.
    sign_in = page.get_by_role("form", name="Sign in")
    sign_in.get_by_label("Email").focus()
    page.keyboard.type("ada@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert").filter(has_text="incorrect")
    expect(alert).to_be_visible()
    expect(alert).not_to_contain_text("detail")
    sign_in.get_by_label("Password").fill("pw-ada-123")
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="Admin")).to_be_visible()


def sign_up_admin(page: Any) -> None:
    sign_up(page, "Ada", "ada@example.com", "pw-ada-123")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_create_key_use_it_then_revoke(page: Any, web_server: LiveServer) -> None:
    sign_up_admin(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_label("Key name").fill("laptop scripts")
    page.get_by_label("Expires in (days)").fill("30")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_role("region", name="New key")
    expect(new_key).to_be_visible()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("sk-")
    expect(page.locator("#snippet-curl")).to_contain_text(key)
    expect(page.locator("#snippet-python")).to_contain_text(f'api_key="{key}"')
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_server.url)
    copy = page.get_by_role("button", name="Copy the key")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    # The list (reloaded by htmx) shows the key masked, never whole.
    row = page.get_by_role("row", name=re.compile("laptop scripts"))
    expect(row).to_be_visible()
    expect(row).not_to_contain_text(key)
    screenshot(page, "api-keys")

    # The key works from outside the browser, as the curl snippet uses it.
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{web_server.url}/api/models", headers=headers).status_code == 200

    row.get_by_role("button", name="Revoke laptop scripts").click()
    expect(row).to_contain_text("Programs using it stop working")
    row.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_role("row", name=re.compile("laptop scripts"))).to_have_count(0)
    assert httpx.get(f"{web_server.url}/api/models", headers=headers).status_code == 401


def test_a_rate_limited_key_is_refused_in_words(page: Any) -> None:
    sign_up_admin(page)
    page.goto("/settings/account")
    page.get_by_label("Key name").fill("one a minute")
    page.get_by_label("Requests per minute").fill("1")
    page.get_by_role("button", name="Create key").click()
    try_it = page.get_by_role("button", name="Send a test request")
    try_it.click()
    expect(page.get_by_role("status").filter(has_text="answered")).to_be_visible()
    try_it.click()
    alert = page.get_by_role("alert").filter(has_text="Too many requests")
    expect(alert).to_contain_text("allows 1 per minute")
    expect(alert).not_to_contain_text("{")  # words, not the JSON body
    screenshot(page, "rate-limited-key")


def chat_three_times(page: Any, server: LiveServer) -> None:
    """Three chat calls with the page's session, once the usage ledger has them."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "token")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}
    for _ in range(3):
        resp = httpx.post(f"{server.url}/api/chat/completions", json=body, headers=headers)
        assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        usage = httpx.get(f"{server.url}/api/v1/usage/all", headers=headers).json()
        if usage["totals"]["requests"] == 3:
            return
        time.sleep(0.1)
    raise AssertionError(f"the usage ledger did not record the calls: {usage}")


def test_admin_approves_a_pending_user(new_page: Any, web_server: LiveServer) -> None:
    admin = new_page()
    sign_up_admin(admin)

    grace = new_page()  # another browser context: another person
    sign_up(grace, "Grace", "grace@example.com", "pw-grace-123")
    expect(grace.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    screenshot(grace, "waiting-for-approval")
    grace.goto("/settings/account")  # not before an admin says so
    expect(grace).to_have_url(re.compile(r"/auth$"))

    chat_three_times(admin, web_server)  # something for the usage chart to show
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(admin.get_by_role("img", name=re.compile("Tokens per day"))).to_be_visible()
    by_model = admin.get_by_role("table", name="Usage by model")
    expect(by_model.get_by_role("row", name=re.compile(r"^gpt-4o-mini 3 "))).to_be_visible()
    expect(admin.get_by_text("1 waiting for approval")).to_be_visible()
    expect(admin.get_by_role("combobox", name="Role of Grace")).to_have_value("pending")
    screenshot(admin, "admin")
    admin.get_by_role("button", name="Approve Grace").click()
    expect(admin.get_by_role("combobox", name="Role of Grace")).to_have_value("user")
    expect(admin.get_by_text("waiting for approval")).to_have_count(0)

    grace.get_by_role("link", name="Check again").click()
    expect(grace).not_to_have_url(re.compile(r"/auth$"))
    grace.goto("/settings/account")
    expect(grace.get_by_role("heading", name="Settings › Account")).to_be_visible()
    # Not an admin: the admin page is refused, and not linked.
    expect(
        grace.get_by_role("navigation", name="Main").get_by_role("link", name="Admin")
    ).to_have_count(0)
    assert grace.goto("/admin").status == 403

    # Deleting asks first, then the account is gone, and so is its session.
    admin.get_by_role("button", name="Delete Grace").click()
    admin.get_by_role("button", name="Yes, delete").click()
    expect(admin.get_by_role("combobox", name="Role of Grace")).to_have_count(0)
    grace.goto("/settings/account")
    expect(grace).to_have_url(re.compile(r"/auth$"))


def test_pages_read_at_phone_width_and_in_the_dark(page: Any) -> None:
    sign_up_admin(page)
    page.set_viewport_size({"width": 380, "height": 800})
    page.emulate_media(color_scheme="dark")
    for path in ("/settings/account", "/admin"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        # Nothing wider than the screen: wide tables scroll inside their own box.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(20, 21, 24)", background  # the dark theme's --bg
    screenshot(page, "admin-phone-dark")
