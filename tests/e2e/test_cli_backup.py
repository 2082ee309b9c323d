"""`wayline backup` while a real server serves (and writes), then `wayline restore` into a new
DATA_DIR: a server started there sees the same accounts, sessions, keys and files."""

from __future__ import annotations

import tarfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, signup, start_server
from tests.e2e.cli import cli_env, ok, one_line_failure, wayline

pytestmark = pytest.mark.e2e


def serve(data_dir: Path, database_url: str) -> LiveServer:
    return start_server({"WEBUI_SECRET_KEY": ""}, data_dir, database_url)


def wait_completed(server: LiveServer, key: str, file_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = httpx.get(
            f"{server.url}/api/v1/files/{file_id}/process/status",
            headers={"Authorization": f"Bearer {key}"},
        ).json()["status"]
        if status in ("completed", "failed"):
            assert status == "completed"
            return
        time.sleep(0.2)
    raise AssertionError(f"{file_id} was not processed in time")


def test_backup_while_serving_then_restore_elsewhere(tmp_path: Path):
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'wayline.db'}"
    env = cli_env(data, url)
    servers: list[LiveServer] = []
    try:
        first = serve(data, url)
        servers.append(first)
        with httpx.Client(base_url=first.url) as http:
            admin = signup(http, "Admin")
            bob = signup(http, "Bob", admin=admin)
        payload = b"The restored manual says: torque the bolts to 40 Nm.\n"
        up = httpx.post(
            f"{first.url}/api/v1/files/",
            headers=admin.headers,
            files={"file": ("manual.txt", payload, "text/plain")},
        )
        assert up.status_code == 200, up.text
        file_id = up.json()["id"]
        wait_completed(first, admin.api_key, file_id)

        # Writes keep landing while the backups are taken.
        stop = threading.Event()
        made: list[int] = []

        def write() -> None:
            with httpx.Client(base_url=first.url, headers=admin.headers) as http:
                while not stop.is_set():
                    made.append(http.post("/api/v1/auths/api_keys", json={"name": "w"}).status_code)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            archive = tmp_path / "backups" / "wayline.tar.gz"
            done = ok(wayline("backup", str(archive), env=env))
            assert "1 uploaded files, the secret key" in done.stdout
            folder = ok(wayline("backup", str(tmp_path / "backups" / "folder"), env=env))
            assert "backups/folder" in folder.stdout
            # A running server's database is never restored over, --force or not.
            line = one_line_failure(wayline("restore", str(archive), "--force", env=env))
            assert "running server" in line
            line = one_line_failure(wayline("backup", str(archive), env=env))
            assert "already exists" in line
        finally:
            stop.set()
            writer.join()
        assert made and set(made) == {200}
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
        assert {"manifest.json", "wayline.db", ".webui_secret_key"} <= names
        assert any(n.startswith("uploads/") and n.endswith("manual.txt") for n in names)
        assert (archive.stat().st_mode & 0o777) == 0o600  # it holds the secret key
        first.stop()

        # Restore into a new DATA_DIR; a server started there sees the same world.
        fresh = tmp_path / "restored"
        fresh_url = f"sqlite:///{fresh / 'wayline.db'}"
        fresh_env = cli_env(fresh, fresh_url)
        restored = ok(wayline("restore", str(archive), env=fresh_env))
        assert "1 uploaded files" in restored.stdout
        line = one_line_failure(wayline("restore", str(archive), env=fresh_env))
        assert "not empty" in line and "--force" in line
        again = ok(
            wayline("restore", str(tmp_path / "backups" / "folder"), "--force", env=fresh_env)
        )
        assert "pre-restore-" in again.stdout
        assert len(list(fresh.glob("pre-restore-*/wayline.db"))) == 1  # moved aside, not lost
        listing = ok(wayline("user", "list", env=fresh_env)).stdout
        assert "admin@example.com" in listing and "bob@example.com" in listing

        second = serve(fresh, fresh_url)
        servers.append(second)
        signed = httpx.post(
            f"{second.url}/api/v1/auths/signin",
            json={"email": bob.email, "password": bob.password},
        )
        assert signed.status_code == 200 and signed.json()["role"] == "user"
        # The secret key came along: sessions from before the backup still verify.
        me = httpx.get(f"{second.url}/api/v1/auths/", headers=admin.jwt_headers)
        assert me.status_code == 200 and me.json()["email"] == admin.email
        files = httpx.get(f"{second.url}/api/v1/files/", headers=admin.headers).json()
        assert [f["id"] for f in files["items"]] == [file_id]
        content = httpx.get(f"{second.url}/api/v1/files/{file_id}/content", headers=admin.headers)
        assert content.status_code == 200 and content.content == payload
    finally:
        for server in servers:
            server.stop()


def test_postgresql_and_bad_sources_are_refused_in_one_line(tmp_path: Path):
    pg = cli_env(tmp_path / "data", "postgresql://wl:hunter2@127.0.0.1:1/wayline")
    line = one_line_failure(wayline("backup", str(tmp_path / "b.tar.gz"), env=pg))
    assert "pg_dump" in line and "hunter2" not in line
    assert "pg_dump" in one_line_failure(wayline("restore", str(tmp_path), env=pg))

    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'wayline.db'}")
    assert "no database" in one_line_failure(wayline("backup", str(tmp_path / "b"), env=env))
    not_a_backup = tmp_path / "random"
    not_a_backup.mkdir()
    line = one_line_failure(wayline("restore", str(not_a_backup), env=env))
    assert "not a wayline backup" in line
    assert not (tmp_path / "data" / "wayline.db").exists()
    line = one_line_failure(wayline("restore", str(tmp_path / "nowhere.tar.gz"), env=env))
    assert "does not exist" in line
