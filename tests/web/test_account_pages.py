"""The account pages (`/auth`, `/settings/account`, `/admin`) and their fragments through the
real app: who may see each, the Content-Security-Policy they carry, the pinned static files, and
names reaching the page as text (escaped), never as markup."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.conftest import Account, signup
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings
from wayline.web import charts

STATIC = Path(__file__).resolve().parents[2] / "src" / "wayline" / "web" / "static"
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
PAGES = ("/auth", "/settings/account", "/admin")


@pytest.fixture
def settings(make_settings, fake_upstream: FakeUpstream) -> Settings:
    return make_settings(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        MODELS_CACHE_TTL=0,
        USAGE_FLUSH_INTERVAL=0.2,
    )


def as_user(who: Account) -> dict[str, str]:
    """The browser's credential: the `token` cookie."""
    return {"Cookie": f"token={who.token}"}


def page(client: TestClient, path: str, who: Account) -> str:
    resp = client.get(path, headers=as_user(who), follow_redirects=False)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    return resp.text


# --- who sees what ---------------------------------------------------------------------------
def test_the_first_visitor_is_asked_for_the_administrator_account(client: TestClient) -> None:
    body = client.get("/auth").text
    assert "Create the administrator account" in body
    assert 'data-url="/api/v1/auths/signup"' in body
    assert 'data-url="/api/v1/auths/signin"' not in body


def test_later_visitors_sign_in_or_ask_for_an_account(client: TestClient, admin: Account) -> None:
    body = client.get("/auth").text
    assert "Create the administrator account" not in body
    assert 'data-url="/api/v1/auths/signin"' in body
    assert 'data-url="/api/v1/auths/signup"' in body  # ENABLE_SIGNUP is on by default


def test_sign_up_is_not_offered_when_disabled(make_client, make_settings) -> None:
    client = make_client(make_settings(ENABLE_SIGNUP=False))
    signup(client, "Admin")
    body = client.get("/auth").text
    assert 'data-url="/api/v1/auths/signup"' not in body


@pytest.mark.parametrize("path", ["/settings/account", "/admin", "/settings/account/keys"])
def test_strangers_go_to_sign_in(client: TestClient, admin: Account, path: str) -> None:
    for headers in ({}, {"Cookie": "token=not-a-jwt"}):
        resp = client.get(path, headers=headers, follow_redirects=False)
        assert resp.status_code == 303, resp.text
        assert resp.headers["location"] == "/auth"


def test_a_fragment_asked_for_after_the_session_ended_sends_the_page_to_sign_in(
    client: TestClient, alice: Account
) -> None:
    client.post("/api/v1/auths/signout", headers=alice.jwt_headers)
    resp = client.get(
        "/settings/account/keys",
        headers={**as_user(alice), "HX-Request": "true"},
        follow_redirects=False,
    )
    assert resp.status_code == 200 and resp.text == ""
    assert resp.headers["hx-redirect"] == "/auth"


def test_a_pending_user_sees_the_waiting_page_and_nothing_else(
    client: TestClient, admin: Account
) -> None:
    pat = signup(client, "Pat")  # DEFAULT_USER_ROLE: pending
    assert pat.role == "pending"
    body = page(client, "/auth", pat)
    assert "Waiting for approval" in body and "pat@example.com" in body
    for path in ("/settings/account", "/admin"):
        resp = client.get(path, headers=as_user(pat), follow_redirects=False)
        assert (resp.status_code, resp.headers["location"]) == (303, "/auth")


def test_a_signed_in_user_is_sent_on_from_the_sign_in_page(
    client: TestClient, alice: Account
) -> None:
    resp = client.get("/auth", headers=as_user(alice), follow_redirects=False)
    assert (resp.status_code, resp.headers["location"]) == (303, "/")


def test_the_admin_page_is_refused_to_a_user_in_words(client: TestClient, alice: Account) -> None:
    for path in ("/admin", "/admin/users"):
        resp = client.get(path, headers=as_user(alice))
        assert resp.status_code == 403
        assert resp.headers["content-type"].startswith("text/html")
        assert "This page is for administrators" in resp.text
        assert "alice@example.com" not in resp.text
    assert 'href="/admin"' not in page(client, "/settings/account", alice)


def test_the_admin_page_lists_accounts_pending_first(
    client: TestClient, admin: Account, alice: Account
) -> None:
    pat = signup(client, "Pat")
    body = page(client, "/admin", admin)
    assert "1 waiting for approval" in body
    assert body.index("pat@example.com") < body.index("alice@example.com")
    assert 'aria-label="Approve Pat"' in body
    assert 'aria-label="Approve Alice"' not in body
    assert f'data-url="/api/v1/users/{pat.id}"' in body  # its delete action
    assert f'data-url="/api/v1/users/{admin.id}"' not in body  # no deleting oneself here
    # The fragment htmx reloads after an approval shows the change.
    client.post(
        "/api/v1/users/update/role", json={"id": pat.id, "role": "user"}, headers=admin.headers
    )
    fragment = page(client, "/admin/users", admin)
    assert "waiting for approval" not in fragment
    assert "<html" not in fragment


def test_the_admin_page_shows_each_connections_health(client: TestClient, admin: Account) -> None:
    body = page(client, "/admin", admin)
    table = body[body.index('aria-label="Connection health"') :]
    assert "gpt-4o-mini" in table and "healthy" in table


# --- API keys ------------------------------------------------------------------------------
def test_the_account_page_lists_keys_masked_with_their_dates_and_limits(
    client: TestClient, alice: Account
) -> None:
    created = client.post(
        "/api/v1/auths/api_keys",
        json={"name": "ci runner", "rpm_limit": 5, "models": ["gpt-4o*"], "expires_in_days": 2},
        headers=alice.jwt_headers,
    ).json()
    body = page(client, "/settings/account", alice)
    assert "ci runner" in body and created["masked"] in body
    assert created["api_key"] not in body and alice.api_key not in body
    assert "5 requests/min" in body and "models: gpt-4o*" in body
    expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(created["expires_at"]))
    assert expires in body
    assert f'data-url="/api/v1/auths/api_keys/{created["id"]}"' in body  # revoke

    client.delete(f"/api/v1/auths/api_keys/{created['id']}", headers=alice.jwt_headers)
    fragment = page(client, "/settings/account/keys", alice)
    assert "ci runner" not in fragment and "<html" not in fragment


def test_one_user_never_sees_anothers_keys(
    client: TestClient, alice: Account, bob: Account
) -> None:
    client.post("/api/v1/auths/api_keys", json={"name": "bobs secret"}, headers=bob.jwt_headers)
    assert "bobs secret" not in page(client, "/settings/account", alice)
    assert "bobs secret" not in page(client, "/settings/account/keys", alice)
    assert "bobs secret" in page(client, "/settings/account/keys", bob)


# --- usage -----------------------------------------------------------------------------------
def test_the_usage_chart_shows_todays_tokens(client: TestClient, admin: Account) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}
    tokens = 0
    for _ in range(2):
        resp = client.post("/api/chat/completions", json=body, headers=admin.headers)
        tokens += resp.json()["usage"]["total_tokens"]
    deadline = time.monotonic() + 10
    while client.get("/api/v1/usage/all", headers=admin.headers).json()["totals"]["requests"] < 2:
        assert time.monotonic() < deadline, "the ledger did not record the calls"
        time.sleep(0.05)
    html = page(client, "/admin?days=7", admin)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    desc = re.search(r'<desc id="usage-chart-desc">(.*?)</desc>', html)
    assert desc is not None
    assert desc.group(1).count("tokens") == 7
    assert f"{today}: {tokens} tokens" in desc.group(1)
    assert "Tokens per day, last 7 days" in html
    by_model = html[html.index('aria-label="Usage by model"') :]
    assert "gpt-4o-mini" in by_model


def test_usage_by_key_names_each_key_whoever_owns_it(client: TestClient, admin: Account) -> None:
    """Another user's key is listed by its name (its id beside it); a revoked key's usage stays,
    marked as revoked."""
    bob = signup(client, "Bob", admin=admin)
    keys = {}
    for name in ("nightly-batch", "old-laptop"):
        made = client.post("/api/v1/auths/api_keys", json={"name": name}, headers=bob.jwt_headers)
        assert made.status_code == 200, made.text
        keys[name] = made.json()
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
        headers = {"Authorization": f"Bearer {keys[name]['api_key']}"}
        assert client.post("/api/chat/completions", json=body, headers=headers).status_code == 200
    gone = client.delete(
        f"/api/v1/auths/api_keys/{keys['old-laptop']['id']}", headers=bob.jwt_headers
    )
    assert gone.status_code == 200, gone.text
    deadline = time.monotonic() + 10
    while client.get("/api/v1/usage/all", headers=admin.headers).json()["totals"]["requests"] < 2:
        assert time.monotonic() < deadline, "the ledger did not record the calls"
        time.sleep(0.05)
    html = page(client, "/admin?days=7", admin)
    by_key = html[
        html.index('aria-label="Usage by key"') : html.index('aria-label="Usage by model"')
    ]
    assert f'nightly-batch <code class="muted">{keys["nightly-batch"]["id"]}</code>' in by_key
    assert f'(revoked key) <code class="muted">{keys["old-laptop"]["id"]}</code>' in by_key


def test_a_bad_usage_span_is_a_422_not_a_500(client: TestClient, admin: Account) -> None:
    for days in ("0", "367", "many"):
        resp = client.get(f"/admin?days={days}", headers=as_user(admin))
        assert resp.status_code == 422, resp.text


def test_bars_scale_to_a_round_top() -> None:
    chart = charts.bar_chart([("2026-01-01", 0), ("2026-01-02", 30), ("2026-01-03", 50)])
    assert chart.top == 50
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0 and heights[2] == pytest.approx(heights[1] * 5 / 3)
    assert chart.bars[2].y + chart.bars[2].height == chart.base
    assert [charts.nice_top(v) for v in (1, 3, 7, 11, 180, 5000)] == [1, 5, 10, 20, 200, 5000]
    assert charts.bar_chart([]).bars == []


# --- the page's protections ---------------------------------------------------------------
def test_pages_carry_a_strict_content_security_policy(client: TestClient, admin: Account) -> None:
    for path in PAGES:
        resp = client.get(path, headers=as_user(admin), follow_redirects=False)
        if resp.status_code == 303:
            resp = client.get(path)  # /auth sends a signed-in user on: read it signed out
        csp = dict(
            part.strip().split(" ", 1)
            for part in resp.headers["content-security-policy"].split(";")
        )
        assert csp["script-src"] == "'self'"
        assert csp["style-src"] == "'self'"
        assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
        assert resp.headers["cache-control"] == "no-store"
        html = resp.text
        # Nothing inline the policy would refuse, and nothing from another host.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\sstyle=", html) and "<style" not in html
        assert not re.search(r"\son[a-z]+=", html)
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_api_answers_are_unchanged(client: TestClient, admin: Account) -> None:
    resp = client.get("/api/v1/auths/", headers=admin.headers)
    assert resp.status_code == 200
    assert "content-security-policy" not in resp.headers
    assert resp.headers["content-type"] == "application/json"


def test_no_page_shadows_an_api_route(client: TestClient) -> None:
    # FastAPI keeps included routers nested: this walk yields each route with its full path.
    routes = [c for c in iter_route_contexts(client.app.routes) if c.endpoint is not None]
    pages = {c.path for c in routes if c.endpoint.__module__.startswith("wayline.web.")}
    assert {"/auth", "/settings/account", "/admin"} <= pages
    others = {c.path for c in routes if not c.endpoint.__module__.startswith("wayline.web.")}
    assert not pages & others
    schema = client.app.openapi()["paths"]  # the pages are not API operations
    assert not pages & set(schema)


def test_vendored_files_are_served_as_pinned(client: TestClient) -> None:
    table = (STATIC / "VENDORED.md").read_text()
    rows = re.findall(
        r"\| `(vendor/[^`]+)` \| `[^`]+` \| ([\d.]+) \|.*\| `([0-9a-f]{64})` \|", table
    )
    assert {name for name, _, _ in rows} == {
        "vendor/htmx-2.0.11.min.js",
        "vendor/alpinejs-csp-3.17.4.min.js",
    }
    base = client.get("/auth").text
    for name, version, digest in rows:
        assert version in name
        resp = client.get(f"/static/{name}")
        assert resp.status_code == 200
        assert hashlib.sha256(resp.content).hexdigest() == digest
        assert resp.headers["content-encoding"] == "gzip"  # httpx asks for it, and unpacks it
        assert resp.num_bytes_downloaded < len(resp.content) / 2
        assert f'src="/static/{name}"' in base
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../pages.py").status_code == 404


def test_names_are_escaped_everywhere(client: TestClient) -> None:
    admin = signup(client, "Admin")
    resp = client.post(
        "/api/v1/auths/update/profile", json={"name": EVIL}, headers=admin.jwt_headers
    )
    assert resp.status_code == 200, resp.text
    pending = client.post(  # a pending account cannot rename itself: it signs up so named
        "/api/v1/auths/signup", json={"name": EVIL, "email": "pat@example.com", "password": "pw"}
    ).json()
    client.cookies.clear()
    client.post("/api/v1/auths/api_keys", json={"name": EVIL}, headers=admin.jwt_headers)
    for path in ("/settings/account", "/settings/account/keys", "/admin", "/admin/users"):
        body = page(client, path, admin)
        assert EVIL not in body, path
        assert ESCAPED in body, path
    waiting = client.get("/auth", headers={"Cookie": f"token={pending['token']}"}).text
    assert EVIL not in waiting and ESCAPED in waiting
