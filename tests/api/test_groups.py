"""`/api/v1/groups` through HTTP: admins create, change, fill and delete groups (nested ones
too); a signed-in user sees the groups they belong to; nobody else manages anything."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, signup
from wayline.core import errors

G = "/api/v1/groups"


def create(client: TestClient, admin: Account, name: str, **fields: object) -> dict:
    r = client.post(
        f"{G}/create", json={"name": name, "description": "", **fields}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


def add(client: TestClient, admin: Account, gid: str, *accounts: Account) -> dict:
    r = client.post(
        f"{G}/id/{gid}/users/add",
        json={"user_ids": [a.id for a in accounts]},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_admin_creates_reads_updates_and_deletes_a_group(client: TestClient, admin: Account):
    group = create(
        client, admin, "Research", description="The lab", permissions={"chat": {"tts": False}}
    )
    assert group["name"] == "Research" and group["description"] == "The lab"
    assert group["user_id"] == admin.id and group["parent_group_id"] is None
    assert group["member_count"] == 0 and group["permissions"] == {"chat": {"tts": False}}
    assert group["data"] == {"config": {"share": "members"}}  # Open WebUI's default share rule
    gid = group["id"]

    assert client.get(f"{G}/id/{gid}", headers=admin.headers).json() == group
    info = client.get(f"{G}/id/{gid}/info", headers=admin.headers).json()
    assert info["name"] == "Research" and "permissions" not in info and "data" not in info

    r = client.post(
        f"{G}/id/{gid}/update",
        json={
            "name": "Research & Development",
            "description": "Both",
            "data": {"config": {"share": True}},
        },
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert (updated["name"], updated["description"]) == ("Research & Development", "Both")
    assert updated["permissions"] == {"chat": {"tts": False}}  # not sent: kept
    assert updated["data"] == {"config": {"share": True}}
    assert [g["id"] for g in client.get(f"{G}/", headers=admin.headers).json()] == [gid]

    assert client.delete(f"{G}/id/{gid}/delete", headers=admin.headers).json() is True
    r = client.get(f"{G}/id/{gid}", headers=admin.headers)
    assert r.status_code == 404 and gid in r.json()["detail"]
    assert client.get(f"{G}/", headers=admin.headers).json() == []


def test_members_are_added_listed_exported_and_removed(
    client: TestClient, admin: Account, alice: Account, bob: Account
):
    gid = create(client, admin, "Team")["id"]
    other = create(client, admin, "Other")["id"]
    assert add(client, admin, gid, alice, bob, alice)["member_count"] == 2
    assert add(client, admin, gid, bob)["member_count"] == 2  # already in: listed once
    add(client, admin, other, bob)

    exported = client.get(f"{G}/id/{gid}/export", headers=admin.headers).json()
    assert sorted(exported["user_ids"]) == sorted([alice.id, bob.id])
    assert exported["member_count"] == 2 and exported["name"] == "Team"
    users = client.post(f"{G}/id/{gid}/users", headers=admin.headers).json()
    assert sorted((u["id"], u["email"], u["role"]) for u in users) == sorted(
        [(alice.id, alice.email, "user"), (bob.id, bob.email, "user")]
    )

    members = client.get(f"{G}/id/{gid}/members", headers=admin.headers).json()
    assert members["total"] == 2 and members["counts"] == {
        "direct": 2,
        "effective": 2,
        "inherited": 0,
    }
    assert {m["membership_type"] for m in members["items"]} == {"direct"}
    found = client.get(f"{G}/id/{gid}/members?query=ALI", headers=admin.headers).json()
    assert [m["id"] for m in found["items"]] == [alice.id] and found["total"] == 1

    # Each user sees the groups they are in, and only those.
    mine = client.get(f"{G}/", headers=alice.headers).json()
    assert [g["id"] for g in mine] == [gid]
    assert sorted(g["id"] for g in client.get(f"{G}/", headers=bob.headers).json()) == sorted(
        [gid, other]
    )
    assert [g["id"] for g in client.get("/api/v1/users/groups", headers=alice.headers).json()] == [
        gid
    ]
    by_admin = client.get(f"/api/v1/users/{bob.id}/groups", headers=admin.headers).json()
    assert sorted(g["id"] for g in by_admin) == sorted([gid, other])

    removed = client.post(
        f"{G}/id/{gid}/users/remove", json={"user_ids": [bob.id, admin.id]}, headers=admin.headers
    )
    assert removed.status_code == 200 and removed.json()["member_count"] == 1
    assert client.get(f"{G}/id/{gid}/export", headers=admin.headers).json()["user_ids"] == [
        alice.id
    ]
    assert [g["id"] for g in client.get(f"{G}/", headers=bob.headers).json()] == [other]


def test_nested_groups_pass_membership_upwards(client: TestClient, admin: Account, alice: Account):
    company = create(client, admin, "Company")["id"]
    team = create(client, admin, "Team", parent_group_id=company)
    assert team["parent_group_id"] == company
    add(client, admin, team["id"], alice)

    members = client.get(f"{G}/id/{company}/members", headers=admin.headers).json()
    assert members["counts"] == {"direct": 0, "effective": 1, "inherited": 1}
    [member] = members["items"]
    assert member["id"] == alice.id and member["membership_type"] == "inherited"
    assert member["via_group_ids"] == [team["id"]]
    direct_only = client.get(f"{G}/id/{company}/members?membership=direct", headers=admin.headers)
    assert direct_only.json()["items"] == []

    # A member of the team belongs to the company too (and lists it), directly only to the team.
    assert sorted(g["id"] for g in client.get(f"{G}/", headers=alice.headers).json()) == sorted(
        [company, team["id"]]
    )
    assert [g["id"] for g in client.get("/api/v1/users/groups", headers=alice.headers).json()] == [
        team["id"]
    ]
    inherited = client.get("/api/v1/users/groups?include_inherited=true", headers=alice.headers)
    assert {g["id"]: g["membership_type"] for g in inherited.json()} == {
        company: "inherited",
        team["id"]: "direct",
    }

    # No cycles: the company cannot move under its own team.
    r = client.post(
        f"{G}/id/{company}/update",
        json={"name": "Company", "parent_group_id": team["id"]},
        headers=admin.headers,
    )
    assert r.status_code == 400 and "descendant" in r.json()["detail"]
    r = client.post(
        f"{G}/id/{company}/update",
        json={"name": "Company", "parent_group_id": company},
        headers=admin.headers,
    )
    assert r.status_code == 400

    # Deleting the company moves the team up to the top; Alice keeps her team.
    assert client.delete(f"{G}/id/{company}/delete", headers=admin.headers).json() is True
    assert (
        client.get(f"{G}/id/{team['id']}", headers=admin.headers).json()["parent_group_id"] is None
    )
    assert [g["id"] for g in client.get(f"{G}/", headers=alice.headers).json()] == [team["id"]]


def test_share_filter_lists_the_groups_a_user_may_name(
    client: TestClient, admin: Account, alice: Account
):
    open_to_all = create(client, admin, "Open", data={"config": {"share": True}})["id"]
    members_only = create(client, admin, "Members")["id"]  # the default: "members"
    closed = create(client, admin, "Closed", data={"config": {"share": False}})["id"]
    not_mine = create(client, admin, "Not mine")["id"]
    for gid in (members_only, closed):
        add(client, admin, gid, alice)

    def listed(query: str) -> set[str]:
        r = client.get(f"{G}/{query}", headers=alice.headers)
        assert r.status_code == 200, r.text
        return {g["id"] for g in r.json()}

    assert listed("") == {members_only, closed}
    assert listed("?share=true") == {open_to_all, members_only}
    assert listed("?share=false") == {closed}
    assert not_mine not in listed("?share=true")
    # An admin may share to every group: the filter does not narrow theirs.
    assert len(client.get(f"{G}/?share=true", headers=admin.headers).json()) == 4


def test_unknown_ids_are_404_or_400_naming_them_and_change_nothing(
    client: TestClient, admin: Account, alice: Account
):
    gid = create(client, admin, "Team")["id"]
    for method, path, body in [
        ("GET", "/id/nope", None),
        ("GET", "/id/nope/info", None),
        ("GET", "/id/nope/export", None),
        ("GET", "/id/nope/members", None),
        ("POST", "/id/nope/users", None),
        ("POST", "/id/nope/update", {"name": "x"}),
        ("POST", "/id/nope/users/add", {"user_ids": [alice.id]}),
        ("POST", "/id/nope/users/remove", {"user_ids": [alice.id]}),
        ("DELETE", "/id/nope/delete", None),
    ]:
        r = client.request(method, G + path, json=body, headers=admin.headers)
        assert r.status_code == 404 and "nope" in r.json()["detail"], (path, r.text)

    r = client.post(
        f"{G}/id/{gid}/users/add", json={"user_ids": [alice.id, "ghost"]}, headers=admin.headers
    )
    assert r.status_code == 400 and "ghost" in r.json()["detail"]
    assert client.get(f"{G}/id/{gid}/export", headers=admin.headers).json()["user_ids"] == []

    r = client.post(
        f"{G}/create", json={"name": "Child", "parent_group_id": "nope"}, headers=admin.headers
    )
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = client.post(
        f"{G}/create", json={"name": "Child", "parent_group_id": ""}, headers=admin.headers
    )
    assert r.status_code == 400 and "group ID or null" in r.json()["detail"]
    assert len(client.get(f"{G}/", headers=admin.headers).json()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 300},
        {"name": "x", "permissions": []},
        {"name": "x", "data": {"config": "shared"}},
        {"name": "x", "data": {"config": {"default_models": ["", "gpt"]}}},
    ],
)
def test_malformed_group_forms_are_422(client: TestClient, admin: Account, body: dict):
    r = client.post(f"{G}/create", json=body, headers=admin.headers)
    assert r.status_code == 422 and r.json()["detail"]
    assert client.get(f"{G}/", headers=admin.headers).json() == []


def test_default_models_are_trimmed_and_kept_once(client: TestClient, admin: Account):
    group = create(client, admin, "M", data={"config": {"default_models": [" a ", "b", "a"]}})
    assert group["data"]["config"]["default_models"] == ["a", "b"]
    assert group["data"]["config"]["share"] == "members"


def test_non_admins_cannot_manage_groups(client: TestClient, admin: Account, alice: Account):
    gid = create(client, admin, "Team")["id"]
    add(client, admin, gid, alice)
    for method, path, body in [
        ("POST", "/create", {"name": "Mine"}),
        ("GET", f"/id/{gid}", None),
        ("GET", f"/id/{gid}/export", None),
        ("GET", f"/id/{gid}/members", None),
        ("GET", f"/id/{gid}/preview", None),
        ("POST", f"/id/{gid}/users", None),
        ("POST", f"/id/{gid}/update", {"name": "Renamed"}),
        ("POST", f"/id/{gid}/users/add", {"user_ids": [alice.id]}),
        ("POST", f"/id/{gid}/users/remove", {"user_ids": [alice.id]}),
        ("DELETE", f"/id/{gid}/delete", None),
    ]:
        r = client.request(method, G + path, json=body, headers=alice.headers)
        assert r.status_code == 401 and r.json()["detail"] == errors.ACCESS_PROHIBITED, path
    # Nothing changed, and a member may still read the group's public info.
    group = client.get(f"{G}/id/{gid}", headers=admin.headers).json()
    assert group["name"] == "Team" and group["member_count"] == 1
    assert client.get(f"{G}/id/{gid}/info", headers=alice.headers).json()["name"] == "Team"
    pending = signup(client, "Pending")
    assert client.get(f"{G}/", headers=pending.jwt_headers).status_code == 401
    assert client.get(f"{G}/").status_code == 401
