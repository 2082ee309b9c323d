"""Found by the soak: identical uploaded bytes reuse an indexed twin's text and chunks. After
its owner edits the text (`data/content/update`), that text must not reach anyone who uploads
the same bytes."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.conftest import Account

HANDBOOK = b"Employee handbook. Holidays are agreed with your manager two weeks ahead.\n"
SECRET = "Alice's private note: salary review on Friday, 4,200 a month."


def upload(client: TestClient, account: Account) -> str:
    resp = client.post(
        "/api/v1/files/?process_in_background=false",
        headers=account.headers,
        files={"file": ("handbook.txt", HANDBOOK, "text/plain")},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def content(client: TestClient, account: Account, file_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(
            f"/api/v1/files/{file_id}/process/status", headers=account.headers
        ).json()
        if status["status"] != "pending" and status["status"] != "processing":
            break
        time.sleep(0.1)
    resp = client.get(f"/api/v1/files/{file_id}/data/content", headers=account.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["content"]


def test_edited_text_never_reaches_another_upload_of_the_same_bytes(
    client: TestClient, alice: Account, bob: Account
):
    alice_file = upload(client, alice)
    edited = client.post(
        f"/api/v1/files/{alice_file}/data/content/update",
        headers=alice.headers,
        json={"content": SECRET},
    )
    assert edited.status_code == 200, edited.text
    assert SECRET in content(client, alice, alice_file)

    bob_file = upload(client, bob)
    assert SECRET not in content(client, bob, bob_file)
    assert "Employee handbook" in content(client, bob, bob_file)
    search = client.post(
        "/api/v1/retrieval/query/doc",
        headers=bob.headers,
        json={"collection_name": f"file-{bob_file}", "query": "salary review", "k": 5},
    )
    assert search.status_code == 200, search.text
    assert SECRET not in search.text
