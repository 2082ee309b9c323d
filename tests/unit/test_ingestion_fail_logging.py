"""A file whose processing fails is logged with its id and reason (the runner catches the
error, so the log is the only place an operator sees it)."""

from __future__ import annotations

import logging
import time

import pytest

from tests.fakes import documents


def test_a_failed_ingestion_is_logged_with_the_file_id(client, alice, caplog):
    caplog.set_level(logging.WARNING, logger="wayline.ingestion")
    resp = client.post(
        "/api/v1/files/",
        files={"file": ("locked.pdf", documents.encrypted_pdf(["classified"]))},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    file_id = resp.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/files/{file_id}/process/status", headers=alice.headers)
        if status.json()["status"] == "failed":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the encrypted PDF did not end failed")
    logged = [
        r.getMessage()
        for r in caplog.records
        if r.name == "wayline.ingestion" and r.levelno == logging.WARNING
    ]
    assert any(file_id in m and "encrypted" in m for m in logged), logged
