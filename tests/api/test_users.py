"""Two users: neither can read, change or delete the other's keys or account; the admin manages
accounts."""

from __future__ import annotations

from tests.conftest import Account
from wayline.core import errors


def test_users_cannot_see_or_touch_each_others_keys(client, alice: Account, bob: Account):
    bob_key = client.post(
        "/api/v1/auths/api_keys", json={"name": "bob-ci"}, headers=bob.headers
    ).json()
    alice_keys = client.get("/api/v1/auths/api_keys", headers=alice.headers).json()
    assert bob_key["id"] not in {k["id"] for k in alice_keys}
    resp = client.delete(f"/api/v1/auths/api_keys/{bob_key['id']}", headers=alice.headers)
    assert resp.status_code == 404
    # Bob's key still works: Alice's attempt changed nothing.
    assert (
        client.get(
            "/api/v1/auths/", headers={"Authorization": f"Bearer {bob_key['api_key']}"}
        ).json()["id"]
        == bob.id
    )
    # Alice replacing *her* default key does not touch Bob's.
    client.post("/api/v1/auths/api_key", headers=alice.jwt_headers)
    assert client.get("/api/v1/auths/", headers=bob.headers).status_code == 200


def test_users_cannot_read_change_or_delete_each_others_account(
    client, alice: Account, bob: Account
):
    assert client.get(f"/api/v1/users/{bob.id}", headers=alice.headers).status_code == 401
    assert (
        client.get(f"/api/v1/users/{alice.id}", headers=alice.headers).json()["email"]
        == alice.email
    )
    resp = client.post(
        f"/api/v1/users/{bob.id}/update", json={"name": "pwned"}, headers=alice.headers
    )
    assert resp.status_code == 401 and resp.json()["detail"] == errors.ACCESS_PROHIBITED
    assert client.delete(f"/api/v1/users/{bob.id}", headers=alice.headers).status_code == 401
    assert client.get("/api/v1/auths/", headers=bob.headers).json()["name"] == "Bob"


def test_admin_lists_updates_and_deletes_users(
    client, admin: Account, alice: Account, bob: Account
):
    listed = client.get("/api/v1/users/", headers=admin.headers).json()
    assert listed["total"] == 3 and {u["email"] for u in listed["users"]} == {
        admin.email,
        alice.email,
        bob.email,
    }
    assert all("password_hash" not in u for u in listed["users"])

    resp = client.post(
        "/api/v1/users/update/role", json={"id": bob.id, "role": "pending"}, headers=admin.headers
    )
    assert resp.json()["role"] == "pending"
    # the demotion takes effect on Bob's very next request
    resp = client.post("/api/v1/auths/api_key", headers=bob.headers)
    assert resp.status_code == 401 and resp.json()["detail"] == errors.ACCESS_PROHIBITED

    assert client.delete(f"/api/v1/users/{alice.id}", headers=admin.headers).json() is True
    assert (
        client.get("/api/v1/auths/", headers=alice.headers).status_code == 401
    )  # her key died with her
    assert client.get("/api/v1/auths/", headers=alice.jwt_headers).status_code == 401


def test_last_admin_cannot_be_demoted(client, admin: Account):
    resp = client.post(
        "/api/v1/users/update/role", json={"id": admin.id, "role": "user"}, headers=admin.headers
    )
    assert resp.status_code == 400 and "last admin" in resp.json()["detail"]


def test_email_change_to_a_taken_address_is_refused(
    client, admin: Account, alice: Account, bob: Account
):
    resp = client.post(
        f"/api/v1/users/{alice.id}/update", json={"email": bob.email}, headers=admin.headers
    )
    assert resp.status_code == 400 and resp.json()["detail"] == errors.EMAIL_TAKEN
