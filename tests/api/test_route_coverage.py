"""Wayline serves Open WebUI 0.12.4's headless API (issue 17), counted route by route.

`tests/data/openwebui_routes.txt` lists every route Open WebUI 0.12.4 serves in the domains
Wayline covers (taken from its source; the header names the files and commits), and
`openwebui_routes_out_of_scope.txt` the ones Wayline leaves out on purpose (LDAP, OAuth, web
search, …; the README lists them too). A route is served when Wayline's OpenAPI document
declares the same method and path (parameter names aside). The share served must not fall below
`THRESHOLD`, and every served route must answer a request, even a junk one, with something other
than a 405 or a server error.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from wayline.core.settings import Settings

DATA = Path(__file__).parent.parent / "data"
THRESHOLD = 0.92
Key = tuple[str, str]  # (METHOD, path with parameters written `{}`)


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    # ENV=dev serves the OpenAPI document, which is what is counted.
    return gateway_settings.model_copy(update={"ENV": "dev"})


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _open_webui_routes() -> dict[Key, str]:
    """Open WebUI's routes in scope, each with its domain."""
    out_of_scope = set()
    for line in (DATA / "openwebui_routes_out_of_scope.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            method, path = line.split()
            out_of_scope.add((method, _normalise(path)))
    routes: dict[Key, str] = {}
    listed = set()
    for line in (DATA / "openwebui_routes.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        domain, method, path = line.split()[:3]
        key = (method, _normalise(path))
        listed.add(key)
        if key not in out_of_scope:
            routes[key] = domain
    assert out_of_scope <= listed, f"out-of-scope routes not in the list: {out_of_scope - listed}"
    return routes


def _served(client: TestClient) -> set[Key]:
    """Wayline's routes, as its OpenAPI document declares them (a HEAD with each GET, which the
    probe below checks is answered)."""
    resp = client.get("/openapi.json")
    assert resp.status_code == 200, resp.text
    served = set()
    for path, operations in resp.json()["paths"].items():
        for method in operations:
            served.add((method.upper(), _normalise(path)))
            if method == "get":
                served.add(("HEAD", _normalise(path)))
    return served


def test_wayline_serves_most_of_open_webuis_headless_routes(client: TestClient) -> None:
    routes = _open_webui_routes()
    served = _served(client)
    missing = sorted(key for key in routes if key not in served)
    per_domain = Counter(routes.values())
    missing_per_domain = Counter(routes[key] for key in missing)
    report = "\n".join(
        f"  {domain:10} {per_domain[domain] - missing_per_domain[domain]:3}/{per_domain[domain]}"
        for domain in sorted(per_domain)
    )
    share = 1 - len(missing) / len(routes)
    assert share >= THRESHOLD, (
        f"{share:.1%} of {len(routes)} routes served (< {THRESHOLD:.0%}):\n{report}\nmissing:\n"
        + "\n".join(f"  {method} {path}" for method, path in missing)
    )


def _probe_path(path: str) -> str:
    # An id that names nothing: each route must answer it with a clear 4xx, never a crash.
    return re.sub(r"\{[^}]*\}", "0", path)


def test_every_served_route_answers_junk_without_a_server_error(
    client: TestClient, admin: Account
) -> None:
    served = _served(client)
    failures = []
    for (method, path), domain in sorted(_open_webui_routes().items()):
        if (method, path) not in served or path.endswith("/signout"):
            continue
        kwargs = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
        resp = client.request(method, _probe_path(path), headers=admin.headers, **kwargs)
        upstream_failure = domain in {"ollama", "openai"} and resp.status_code in {502, 503, 504}
        if resp.status_code == 405 or (resp.status_code >= 500 and not upstream_failure):
            failures.append(f"{method} {path} → {resp.status_code} {resp.text[:200]}")
        elif resp.status_code >= 400:
            body = resp.json()
            if "detail" not in body and "error" not in body:
                failures.append(f"{method} {path} → {resp.status_code} without a detail: {body}")
    assert not failures, "\n".join(failures)
