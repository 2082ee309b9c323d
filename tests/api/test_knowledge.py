"""`/api/v1/knowledge`: collections CRUD, sharing, and one user never seeing another's
collection."""

from __future__ import annotations

import pytest

BASE = "/api/v1/knowledge"


def create(client, account, name="Docs", **extra):
    r = client.post(
        f"{BASE}/create", json={"name": name, "description": "d", **extra}, headers=account.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_create_get_list_update_delete(client, alice):
    k = create(client, alice)
    assert k["user_id"] == alice.id and k["name"] == "Docs" and k["description"] == "d"
    assert k["access_grants"] == [] and k["write_access"] is True and k["files"] is None
    assert isinstance(k["created_at"], int)

    got = client.get(f"{BASE}/{k['id']}", headers=alice.jwt_headers).json()
    assert got["id"] == k["id"] and got["files"] == []

    listing = client.get(f"{BASE}/", headers=alice.headers).json()
    assert listing["total"] == 1
    item = listing["items"][0]
    assert item["id"] == k["id"] and item["file_count"] == 0 and item["user"]["id"] == alice.id

    r = client.post(
        f"{BASE}/{k['id']}/update",
        json={"name": "Renamed", "description": "new"},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json()["name"] == "Renamed"

    files = client.get(f"{BASE}/{k['id']}/files", headers=alice.headers).json()
    assert files == {"items": [], "directories": [], "breadcrumbs": [], "total": 0}

    assert client.delete(f"{BASE}/{k['id']}/delete", headers=alice.headers).json() is True
    r = client.get(f"{BASE}/{k['id']}", headers=alice.headers)
    assert r.status_code == 404 and k["id"] in r.json()["detail"]


def test_any_verified_user_may_create_but_pending_may_not(client, admin, alice):
    from tests.conftest import signup

    pending = signup(client, "Pending")  # default role: pending
    r = client.post(f"{BASE}/create", json={"name": "x"}, headers=pending.jwt_headers)
    assert r.status_code == 401
    create(client, alice)


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": 5}, {"name": "x", "access_grants": [{"permission": "own"}]}]
)
def test_bad_create_bodies_are_422(client, alice, body):
    r = client.post(f"{BASE}/create", json=body, headers=alice.headers)
    assert r.status_code == 422 and r.json()["detail"]


def test_grants_to_unknown_groups_are_refused(client, alice):
    r = client.post(
        f"{BASE}/create",
        json={
            "name": "x",
            "access_grants": [
                {"principal_type": "group", "principal_id": "g1", "permission": "read"}
            ],
        },
        headers=alice.headers,
    )
    assert r.status_code == 400 and "g1" in r.json()["detail"]
    assert (
        client.get(f"{BASE}/", headers=alice.headers).json()["total"] == 0
    )  # nothing half-written


def test_other_users_collection_is_invisible(client, alice, bob):
    k = create(client, alice)
    assert client.get(f"{BASE}/", headers=bob.headers).json() == {"items": [], "total": 0}
    for method, path, body in [
        ("get", f"/{k['id']}", None),
        ("get", f"/{k['id']}/files", None),
        ("post", f"/{k['id']}/update", {"name": "hijack"}),
        ("post", f"/{k['id']}/file/add", {"file_id": "x"}),
        ("post", f"/{k['id']}/reset", None),
        ("post", f"/{k['id']}/access/update", {"access_grants": []}),
        ("delete", f"/{k['id']}/delete", None),
    ]:
        r = client.request(method.upper(), BASE + path, json=body, headers=bob.headers)
        assert r.status_code == 404, (path, r.text)
        assert k["id"] in r.json()["detail"]
    assert client.get(f"{BASE}/{k['id']}", headers=alice.headers).json()["name"] == "Docs"


def test_read_grant_lets_read_not_write_and_write_grant_lets_write(client, alice, bob):
    k = create(
        client,
        alice,
        access_grants=[{"principal_type": "user", "principal_id": bob.id, "permission": "read"}],
    )
    assert k["access_grants"] == [
        {"principal_type": "user", "principal_id": bob.id, "permission": "read"}
    ]
    got = client.get(f"{BASE}/{k['id']}", headers=bob.headers)
    assert got.status_code == 200 and got.json()["write_access"] is False
    assert client.get(f"{BASE}/", headers=bob.headers).json()["total"] == 1
    r = client.post(f"{BASE}/{k['id']}/update", json={"name": "x"}, headers=bob.headers)
    assert r.status_code == 403 and k["id"] in r.json()["detail"]

    r = client.post(
        f"{BASE}/{k['id']}/access/update",
        json={
            "access_grants": [
                {"principal_type": "user", "principal_id": bob.id, "permission": "write"}
            ]
        },
        headers=alice.headers,
    )
    assert r.status_code == 200
    r = client.post(f"{BASE}/{k['id']}/update", json={"name": "by bob"}, headers=bob.headers)
    assert r.status_code == 200 and r.json()["name"] == "by bob"
    # A writer may edit, but only the owner decides who has access.
    r = client.post(
        f"{BASE}/{k['id']}/access/update", json={"access_grants": []}, headers=bob.headers
    )
    assert r.status_code == 403

    client.post(
        f"{BASE}/{k['id']}/access/update", json={"access_grants": []}, headers=alice.headers
    )
    assert client.get(f"{BASE}/{k['id']}", headers=bob.headers).status_code == 404


@pytest.mark.parametrize(
    "grant",
    [
        {"principal_type": "user", "principal_id": "*", "permission": "read"},
        {"principal_type": "anyone", "permission": "read"},
    ],
)
def test_public_read(client, alice, bob, grant):
    k = create(client, alice, access_grants=[grant])
    assert k["access_grants"] == [
        {"principal_type": "user", "principal_id": "*", "permission": "read"}
    ]
    assert client.get(f"{BASE}/{k['id']}", headers=bob.headers).status_code == 200
    assert (
        client.post(f"{BASE}/{k['id']}/update", json={"name": "x"}, headers=bob.headers).status_code
        == 403
    )


def test_admin_sees_and_changes_every_collection(client, admin, alice):
    k = create(client, alice)
    assert client.get(f"{BASE}/", headers=admin.headers).json()["total"] == 1
    r = client.post(f"{BASE}/{k['id']}/update", json={"name": "admin"}, headers=admin.headers)
    assert r.status_code == 200


def test_unknown_collection_is_404_naming_it(client, alice):
    r = client.get(f"{BASE}/nope-123", headers=alice.headers)
    assert r.status_code == 404 and "nope-123" in r.json()["detail"]


def test_unauthenticated_is_401(client):
    assert client.get(f"{BASE}/").status_code == 401
