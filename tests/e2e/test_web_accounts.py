"""Browser journeys through the account pages (Playwright + Debian's chromium, a live server)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer
from tests.e2e.web_browser import screenshot

pytestmark = pytest.mark.e2e


def sign_up(page: Any, name: str, email: str, password: str) -> None:
    page.goto("/auth")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").last.fill(email)
    page.get_by_label("Password").last.fill(password)
    page.get_by_role("button", name="Create account").click()


def test_first_sign_up_becomes_admin(page: Any, web_server: LiveServer) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/auth$"))
    expect(page.get_by_role("heading", name="Create the administrator account")).to_be_visible()
    screenshot(page, "sign-up")
    sign_up(page, "Ada", "ada@example.com", "pw-ada-123")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin")
    ).to_be_visible()
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "token")
    me = httpx.get(f"{web_server.url}/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "admin"
