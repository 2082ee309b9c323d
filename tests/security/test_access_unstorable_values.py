"""Values that could be stored but never read back (and oversized text) are refused up front.

The body parser accepts lone surrogates, NaN/Infinity and integers beyond 64 bits; a preset,
collection or function holding one would make every later list answer 500. Each is 422
naming the field, and nothing is written.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings

PIPE = "class Pipe:\n    def pipe(self, body):\n        return 'ok'\n"
# Raw JSON text: what `json.dumps` of a Python value could not express.
BAD_VALUES = {
    "lone surrogate": '"\\ud800"',
    "NaN": "NaN",
    "Infinity": "1e400",
    "huge integer": str(2**70),
}


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def post_raw(client: TestClient, account: Account, path: str, body: str):
    return client.post(
        path, content=body.encode(), headers={**account.headers, "Content-Type": "application/json"}
    )


def names_field(resp, field: str) -> bool:
    return resp.status_code == 422 and any(field in e["loc"] for e in resp.json()["detail"])


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
@pytest.mark.parametrize("field", ["params", "meta"])
def test_unstorable_preset_values_are_422(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream, field: str, value: str
) -> None:
    other = "meta" if field == "params" else "params"
    body = (
        '{"id": "p", "base_model_id": "gpt-4-turbo", "name": "P", '
        f'"{other}": {{}}, "{field}": {{"x": [{value}]}}}}'
    )
    resp = post_raw(client, alice, "/api/v1/models/create", body)
    assert names_field(resp, field), resp.text
    assert client.get("/api/v1/models/list", headers=alice.headers).json()["total"] == 0
    assert client.get("/api/models", headers=alice.headers).status_code == 200


def test_unstorable_text_fields_are_422(
    client: TestClient, admin: Account, alice: Account, fake_upstream: FakeUpstream
) -> None:
    surrogate = '"bad \\udfff"'
    for path, body, field in (
        (
            "/api/v1/models/create",
            f'{{"id": "p", "base_model_id": "gpt-4-turbo", "name": {surrogate}}}',
            "name",
        ),
        (
            "/api/v1/models/create",
            f'{{"id": {surrogate}, "base_model_id": "gpt-4-turbo", "name": "P"}}',
            "id",
        ),
        ("/api/v1/knowledge/create", f'{{"name": {surrogate}}}', "name"),
        ("/api/v1/knowledge/create", f'{{"name": "k", "description": {surrogate}}}', "description"),
    ):
        resp = post_raw(client, alice, path, body)
        assert names_field(resp, field), (path, resp.text)
    resp = post_raw(
        client,
        admin,
        "/api/v1/functions/create",
        f'{{"id": "f", "name": "F", "content": {json.dumps(PIPE)}, "meta": {{"x": NaN}}}}',
    )
    assert names_field(resp, "meta"), resp.text
    assert client.get("/api/v1/models/list", headers=alice.headers).json()["total"] == 0
    assert client.get("/api/v1/knowledge/", headers=alice.headers).json()["total"] == 0
    assert client.get("/api/v1/functions/list", headers=admin.headers).json() == []


@pytest.mark.parametrize(
    "path, form, field",
    [
        (
            "/api/v1/models/create",
            {"id": "p", "base_model_id": "gpt-4-turbo", "name": "n" * 256},
            "name",
        ),
        (
            "/api/v1/models/create",
            {"id": "p" * 256, "base_model_id": "gpt-4-turbo", "name": "P"},
            "id",
        ),
        (
            "/api/v1/models/create",
            {
                "id": "p",
                "base_model_id": "gpt-4-turbo",
                "name": "P",
                "params": {"system": "s" * 100_001},
            },
            "params",
        ),
        (
            "/api/v1/models/create",
            {
                "id": "p",
                "base_model_id": "gpt-4-turbo",
                "name": "P",
                "meta": {"description": "d" * 10_001},
            },
            "meta",
        ),
        ("/api/v1/knowledge/create", {"name": "n" * 256}, "name"),
        ("/api/v1/knowledge/create", {"name": "k", "description": "d" * 10_001}, "description"),
    ],
)
def test_unstorable_oversized_text_is_422(
    client: TestClient,
    alice: Account,
    fake_upstream: FakeUpstream,
    path: str,
    form: dict,
    field: str,
) -> None:
    resp = client.post(path, json=form, headers=alice.headers)
    assert names_field(resp, field), resp.text
    assert client.get("/api/v1/models/list", headers=alice.headers).json()["total"] == 0
    assert client.get("/api/v1/knowledge/", headers=alice.headers).json()["total"] == 0


def test_unstorable_values_leave_the_limits_usable(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    form = {
        "id": "p",
        "base_model_id": "gpt-4-turbo",
        "name": "n" * 255,
        "params": {"system": "s" * 100_000, "temperature": 0.1, "seed": 2**63 - 1},
        "meta": {"description": "d" * 10_000, "note": "naïve ☕ 𝄞"},
    }
    assert client.post("/api/v1/models/create", json=form, headers=alice.headers).status_code == 200
    got = client.get("/api/v1/models/model?id=p", headers=alice.headers).json()
    assert got["params"] == form["params"] and got["meta"] == form["meta"]
