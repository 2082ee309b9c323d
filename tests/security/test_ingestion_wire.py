"""`GET /api/v1/files/{id}` carries Open WebUI's `data: {status, error?, content?}`: `error` is the
reason a file failed (Open WebUI stores `str(e.detail)` or `str(e)` there), gone once it
succeeds."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.test_files import upload, wait_done
from tests.conftest import signup
from tests.security.test_ingestion_bombs import many_pages_pdf
from wayline.core.settings import Settings


def test_failed_file_reports_data_error_until_it_is_processed_again(
    make_settings: Callable[..., Settings], make_client: Callable[[Settings], TestClient]
) -> None:
    client = make_client(make_settings(PDF_MAX_PAGES=3))
    alice = signup(client, "Alice")
    file_id = upload(client, alice, "long.pdf", many_pages_pdf(4)).json()["id"]
    status = wait_done(client, alice, file_id)
    assert status["status"] == "failed" and "PDF_MAX_PAGES=3" in status["error"]

    got = client.get(f"/api/v1/files/{file_id}", headers=alice.headers).json()
    assert got["data"] == {"status": "failed", "error": status["error"]}
    listed = client.get("/api/v1/files/", headers=alice.headers).json()["items"]
    assert [f["data"] for f in listed] == [{"status": "failed", "error": status["error"]}]

    fixed = client.post(
        "/api/v1/retrieval/process/file",
        json={"file_id": file_id, "content": "The text, typed in."},
        headers=alice.headers,
    )
    assert fixed.status_code == 200, fixed.text
    again = client.get(f"/api/v1/files/{file_id}", headers=alice.headers).json()
    assert again["data"] == {"status": "completed", "content": "The text, typed in."}
