"""One access-grant form (`core.grants.AccessGrantForm`) for workspace models and knowledge
collections: what one accepts, the other accepts; a grant naming a group that does not exist is
refused by both (400 naming it)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from wayline.core.settings import Settings


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def _model(grants: list[dict]) -> dict:
    return {
        "id": "shared",
        "base_model_id": "gpt-4-turbo",
        "name": "Shared",
        "access_grants": grants,
    }


@pytest.mark.parametrize(
    "grant",
    [
        {"principal_type": "user", "principal_id": "*", "permission": "read"},
        {"principal_type": "anyone", "permission": "read"},
        {"principal_type": "user", "principal_id": "*"},  # permission defaults to read
        {"principal_type": "user", "principal_id": "*", "permission": "read", "id": "x"},  # extra
    ],
)
def test_both_accept_what_clients_send(
    client: TestClient, alice: Account, bob: Account, grant: dict
) -> None:
    model = client.post("/api/v1/models/create", headers=alice.headers, json=_model([grant]))
    assert model.status_code == 200, model.text
    knowledge = client.post(
        "/api/v1/knowledge/create",
        headers=alice.headers,
        json={"name": "Docs", "access_grants": [grant]},
    )
    assert knowledge.status_code == 200, knowledge.text
    # Either way, everyone may read it.
    assert client.get(f"/api/v1/knowledge/{knowledge.json()['id']}", headers=bob.headers).is_success
    listed = client.get("/api/v1/models/list", headers=bob.headers).json()["items"]
    assert [m["id"] for m in listed] == ["shared"]


@pytest.mark.parametrize(
    "grant",
    [
        {"principal_type": "user", "principal_id": "*", "permission": "own"},
        {"principal_type": "role", "principal_id": "*"},
        {"principal_type": "user", "principal_id": ""},
        {"principal_type": "user", "principal_id": "x" * 256},
    ],
)
def test_both_refuse_a_malformed_grant(client: TestClient, alice: Account, grant: dict) -> None:
    model = client.post("/api/v1/models/create", headers=alice.headers, json=_model([grant]))
    knowledge = client.post(
        "/api/v1/knowledge/create",
        headers=alice.headers,
        json={"name": "Docs", "access_grants": [grant]},
    )
    assert (model.status_code, knowledge.status_code) == (422, 422)


def test_both_refuse_grants_to_unknown_groups_and_accept_known_ones(
    client: TestClient, admin: Account, alice: Account
) -> None:
    group = {"principal_type": "group", "principal_id": "g1", "permission": "read"}
    model = client.post("/api/v1/models/create", headers=alice.headers, json=_model([group]))
    assert model.status_code == 400 and "g1" in model.json()["detail"]
    knowledge = client.post(
        "/api/v1/knowledge/create",
        headers=alice.headers,
        json={"name": "Docs", "access_grants": [group]},
    )
    assert knowledge.status_code == 400 and "g1" in knowledge.json()["detail"]
    # Nothing half-written.
    assert client.get("/api/v1/models/list", headers=alice.headers).json()["items"] == []
    assert client.get("/api/v1/knowledge/", headers=alice.headers).json()["total"] == 0

    created = client.post("/api/v1/groups/create", json={"name": "Team"}, headers=admin.headers)
    known = {**group, "principal_id": created.json()["id"]}
    model = client.post("/api/v1/models/create", headers=alice.headers, json=_model([known]))
    assert model.status_code == 200 and model.json()["access_grants"] == [known]
    knowledge = client.post(
        "/api/v1/knowledge/create",
        headers=alice.headers,
        json={"name": "Docs", "access_grants": [known]},
    )
    assert knowledge.status_code == 200 and knowledge.json()["access_grants"] == [known]
