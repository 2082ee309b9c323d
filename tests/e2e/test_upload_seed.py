"""The seed's upload examples, verbatim in form, against a real `wayline serve`:
`curl -X POST -H "Authorization: Bearer …" -H "Accept: application/json" -F "file=@…"` and the
Python `requests` snippet; the content must then be extracted and indexed."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import requests

from tests.conftest import LiveServer, signup

pytestmark = pytest.mark.e2e


def upload_file(url: str, token: str, file_path: str) -> dict:
    # The seed's snippet, with its URL pointed at the test server.
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    files = {"file": open(file_path, "rb")}  # noqa: SIM115 -- the seed's snippet, verbatim
    response = requests.post(url, headers=headers, files=files)
    return response.json()


def wait_completed(server: LiveServer, key: str, file_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = httpx.get(
            f"{server.url}/api/v1/files/{file_id}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        if body["data"].get("status") in ("completed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{file_id} not processed in time")


def test_seed_curl_and_requests_uploads(live_server: LiveServer, tmp_path: Path) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        key = signup(http, "Admin").api_key
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "Supersonic inlets use oblique shocks to slow the flow before the compressor.\n"
    )
    manual = tmp_path / "manual.md"
    manual.write_text("# Landing gear\n\nThe retraction actuator is hydraulic.\n")

    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            "-H",
            f"Authorization: Bearer {key}",
            "-H",
            "Accept: application/json",
            "-F",
            f"file=@{notes}",
            f"{live_server.url}/api/v1/files/",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    by_curl = json.loads(out.stdout)
    assert by_curl["status"] is True and by_curl["filename"] == "notes.txt"
    assert (
        by_curl["data"]["status"] == "pending" and by_curl["meta"]["size"] == notes.stat().st_size
    )

    by_requests = upload_file(f"{live_server.url}/api/v1/files/", key, str(manual))
    assert by_requests["status"] is True and by_requests["filename"] == "manual.md"

    done = wait_completed(live_server, key, by_curl["id"])
    assert done["data"]["status"] == "completed"
    assert "oblique shocks" in done["data"]["content"]
    done = wait_completed(live_server, key, by_requests["id"])
    assert done["data"]["content"].startswith("# Landing gear")
    raw = httpx.get(
        f"{live_server.url}/api/v1/files/{by_curl['id']}/content",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert raw.content == notes.read_bytes()
