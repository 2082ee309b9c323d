"""The seven Swagger portals: offline pages with their own documents under ENV=dev, JSON 404
otherwise."""

from __future__ import annotations

import re

import pytest

# (docs page, its document, a path every document of that service must list,
#  prefix all its paths share)
PORTALS = [
    ("/docs", "/openapi.json", "/health", ""),
    ("/api/v1/docs", "/api/v1/openapi.json", "/api/v1/auths/signin", "/api/v1/"),
    ("/ollama/docs", "/ollama/openapi.json", "/ollama/api/tags", "/ollama"),
    ("/openai/docs", "/openai/openapi.json", "/openai/models", "/openai/"),
    (
        "/images/api/v1/docs",
        "/images/api/v1/openapi.json",
        "/images/api/v1/generations",
        "/images/api/v1/",
    ),
    (
        "/audio/api/v1/docs",
        "/audio/api/v1/openapi.json",
        "/audio/api/v1/transcriptions",
        "/audio/api/v1/",
    ),
    (
        "/retrieval/api/v1/docs",
        "/retrieval/api/v1/openapi.json",
        "/retrieval/api/v1/query/doc",
        "/retrieval/api/v1/",
    ),
]


@pytest.fixture
def dev_client(make_settings, make_client):
    return make_client(make_settings(ENV="dev"))


@pytest.mark.parametrize(("page", "spec", "listed", "prefix"), PORTALS)
def test_portal_with_env_dev(dev_client, page, spec, listed, prefix):
    html = dev_client.get(page)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle(" in html.text
    assert f"url: '{spec}'" in html.text
    # Every asset comes from this server (no CDN), and each is served.
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert assets and all(a.startswith("/static/swagger-ui/") for a in assets), assets
    for asset in assets:
        assert dev_client.get(asset).status_code == 200, asset

    document = dev_client.get(spec)
    assert document.status_code == 200
    body = document.json()
    assert body["openapi"].startswith("3.")
    paths = list(body["paths"])
    if listed is not None:
        assert listed in paths
    assert all(p.startswith(prefix) for p in paths), [p for p in paths if not p.startswith(prefix)]
    if prefix:
        # A service's document is its own: nothing from the other services.
        assert "/health" not in paths


def test_main_document_lists_every_service(dev_client):
    paths = dev_client.get("/openapi.json").json()["paths"]
    for path in (
        "/ollama/api/tags",
        "/openai/models",
        "/api/v1/images/generations",
        "/api/v1/audio/speech",
    ):
        assert path in paths
    # Aliases are not duplicated in the main document.
    assert not any(p.startswith(("/images/", "/audio/", "/retrieval/")) for p in paths)


@pytest.mark.parametrize(
    "path",
    [p for portal in PORTALS for p in portal[:2]] + ["/static/swagger-ui/swagger-ui-bundle.js"],
)
def test_portals_are_json_404_without_env_dev(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/json")
    assert "detail" in resp.json()


def test_aliases_reach_the_same_routes(client, admin):
    # An alias answers exactly like the canonical route (same auth, same body).
    for alias, canonical in (
        ("/images/api/v1/config", "/api/v1/images/config"),
        ("/audio/api/v1/config", "/api/v1/audio/config"),
        ("/retrieval/api/v1/config", "/api/v1/retrieval/config"),
    ):
        a = client.get(alias, headers=admin.headers)
        c = client.get(canonical, headers=admin.headers)
        assert a.status_code == c.status_code == 200
        assert a.json() == c.json()
        assert client.get(alias).status_code == 401
