"""`open-webui-admin` (the admin CLI from the package registry, unchanged) against a real
`wayline serve` in front of the fake upstream: every command group, its read-only commands and
one safe write each, checked on what the command prints."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.fakes.documents import pdf
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
        AUDIO_TTS_ENGINE="openai",
        AUDIO_TTS_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        AUDIO_TTS_OPENAI_API_KEY="sk-fake-upstream",
        MODELS_CACHE_TTL="0",
    )


class Admin:
    """The CLI as an operator runs it: `OPENWEBUI_URL` and `OPENWEBUI_TOKEN` (an API key)."""

    def __init__(self, url: str, token: str, cwd: Path) -> None:
        self.url, self.token, self.cwd = url, token, cwd
        found = shutil.which("open-webui-admin")
        self.command = [found] if found else [sys.executable, "-m", "open_webui_admin.cli"]

    def run(self, *args: str, code: int = 0) -> str:
        env = {**os.environ, "OPENWEBUI_URL": self.url, "OPENWEBUI_TOKEN": self.token}
        proc = subprocess.run(
            [*self.command, *args],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = ANSI.sub("", proc.stdout + proc.stderr)
        assert proc.returncode == code, (args, proc.returncode, out)
        assert "Traceback" not in out, out
        return out


def sign_up_admin(url: str) -> tuple[str, str]:
    """The first account (the admin): its JWT and an API key."""
    with httpx.Client(base_url=url, timeout=30) as http:
        body = http.post(
            "/api/v1/auths/signup",
            json={"name": "Root", "email": "root@example.com", "password": "pw-root-123"},
        ).json()
        key = http.post(
            "/api/v1/auths/api_key", headers={"Authorization": f"Bearer {body['token']}"}
        )
        assert key.status_code == 200, key.text
        return body["token"], key.json()["api_key"]


def test_every_command_group(
    server: LiveServer, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    jwt, key = sign_up_admin(server.url)
    cli = Admin(server.url, key, tmp_path)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {jwt}"}, timeout=30
    ) as http:
        # A second account, and a preset shared with everyone (the CLI lists presets).
        signup = http.post(
            "/api/v1/auths/signup",
            json={"name": "Ada", "email": "ada@example.com", "password": "pw-ada-123"},
        )
        assert signup.status_code == 200, signup.text
        preset = http.post(
            "/api/v1/models/create",
            json={
                "id": "pirate",
                "base_model_id": "gpt-4o-mini",
                "name": "Pirate",
                "params": {"system": "Talk like a pirate."},
                "meta": {},
                "access_grants": [
                    {"principal_type": "user", "principal_id": "*", "permission": "read"}
                ],
            },
        )
        assert preset.status_code == 200, preset.text
    check_users(cli)
    check_models(cli)
    check_banners(cli)
    check_config_and_connections(cli, fake_upstream)
    check_media(cli)
    check_files_and_knowledge(cli, tmp_path)


def check_users(cli: Admin) -> None:
    out = cli.run("users", "get", "--all")
    assert "root@example.com" in out and "ada@example.com" in out and "Total: 2 users" in out
    data = json.loads(cli.run("users", "get", "--all", "--json", "--exclude-email", "^root"))
    assert data["count"] == 1 and data["users"][0]["email"] == "ada@example.com"


def check_models(cli: Admin) -> None:
    listed = [row["id"] for row in json.loads(cli.run("models", "list", "--json"))]
    # `/openai/models` (the OpenAI connections' models) plus the presets of `/api/v1/models`:
    # each once, the preset too.
    assert listed == sorted(["gpt-4-turbo", "gpt-4o-mini", "pirate", "text-embedding-3-small"])
    verbose = cli.run("models", "list", "-v", "--simple")
    assert "gpt-4o-mini" in verbose and "pirate" in verbose
    custom = cli.run("models", "custom", "list", "--simple")
    assert custom.split() == ["pirate", "gpt-4o-mini"]
    one = json.loads(cli.run("models", "custom", "list", "--name", "pirate", "--json"))
    assert one["params"]["system"] == "Talk like a pirate." and one["write_access"] is True
    assert "Model 'gpt-4o-mini' is valid" in cli.run("models", "check", "--name", "gpt-4o-mini")
    assert "is NOT valid" in cli.run("models", "check", "--name", "no-such-model", code=1)
    assert "Model 'gpt-4o-mini' is working" in cli.run("models", "verify", "--name", "gpt-4o-mini")
    verified = cli.run("models", "custom", "verify", "--all")
    assert "[OK] pirate" in verified and "1 custom models verified" in verified
    config = cli.run("models", "config")
    assert "'DEFAULT_MODELS': None" in config and "'MODEL_ORDER_LIST': []" in config


def check_banners(cli: Admin) -> None:
    assert cli.run("banners", "get").strip() == "No banners"
    assert "Banner set successfully" in cli.run(
        "banners", "set", "--type", "Warning", "--title", "Upgrade", "--content", "Down at ten"
    )
    assert cli.run("banners", "get", "--simple").strip() == "[Warning] Upgrade: Down at ten"
    table = cli.run("banners", "get")
    assert "TYPE" in table and "Warning" in table and "Down at ten" in table
    assert "All banners deleted successfully" in cli.run("banners", "clear")
    assert cli.run("banners", "get").strip() == "No banners"


def check_config_and_connections(cli: Admin, fake: FakeUpstream) -> None:
    openai = cli.run("config", "get", "--name", "openai")
    assert "=== OpenAI Connections ===" in openai and f"[0] {fake.openai_url}" in openai
    assert "Key: sk-fake-upstream" in openai and f"[0] {fake.ollama_url}" in openai
    ollama = json.loads(cli.run("config", "get", "--name", "ollama", "--json"))
    assert ollama["OLLAMA_BASE_URLS"] == [fake.ollama_url] and ollama["ENABLE_OLLAMA_API"]
    exported = json.loads(cli.run("config", "export", "--json"))
    assert exported["openai"]["OPENAI_API_BASE_URLS"] == [fake.openai_url]
    assert exported["banners"] == {"banners": []} and exported["version"] == 1
    verified = cli.run("connections", "verify")
    assert f"[OK] {fake.openai_url}" in verified and f"[OK] {fake.ollama_url}" in verified
    assert "FAIL" not in verified


def check_media(cli: Admin) -> None:
    images = cli.run("images", "list", "--simple").split()
    assert "dall-e-2" in images and "dall-e-3" in images
    assert "tts-1" in cli.run("audio", "models", "--simple").split()
    assert "alloy" in cli.run("audio", "voices", "--simple").split()


def check_files_and_knowledge(cli: Admin, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The lighthouse keeper logs every passing ship.\n")
    uploaded = cli.run("files", "upload", str(notes))
    file_id = re.search(r"Uploaded: notes.txt -> (\S+)", uploaded).group(1)  # type: ignore[union-attr]
    assert file_id in cli.run("files", "list", "--simple")
    shown = cli.run("files", "show", file_id)
    assert "notes.txt" in shown and "text/plain" in shown

    created = cli.run("knowledge", "create", "--name", "Harbour", "--description", "Ships")
    kb = re.search(r"Created: (\S+)", created).group(1)  # type: ignore[union-attr]
    assert f"{kb}  Harbour" in cli.run("knowledge", "list", "--simple")
    shown_kb = cli.run("knowledge", "show", kb)
    assert "Harbour" in shown_kb and "Ships" in shown_kb
    assert f"Added {file_id} to {kb}" in cli.run("knowledge", "add-file", kb, file_id)
    assert f"{file_id}  notes.txt" in cli.run("knowledge", "files", kb, "--simple")

    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Tides\nHigh tide at noon.\n")
    (folder / "sub" / "b.txt").write_text("Low tide at six.\n")
    added = cli.run("knowledge", "add-folder", kb, str(folder), "--recursive")
    assert "Summary: 2 uploaded, 0 failed" in added
    listed = cli.run("knowledge", "files", kb, "--simple")
    assert all(name in listed for name in ("notes.txt", "a.md", "b.txt"))

    assert "Removed" in cli.run("knowledge", "remove-file", kb, file_id)
    assert "notes.txt" not in cli.run("knowledge", "files", kb, "--simple")
    report = tmp_path / "report.pdf"
    report.write_bytes(pdf(["Quarterly tonnage through the harbour rose by twelve percent."]))
    tika = cli.run("tika", "test", "--path", str(report))
    assert "=== Tika test: PASSED ===" in tika and "[OK] processing" in tika
    # The command reads the content as soon as the status mentions "done" (Wayline's status
    # carries `progress: {done, total}`), which can be before extraction finished: the text
    # is checked here once processing has completed.
    report_id = re.search(r"File ID: (\S+)", tika).group(1)  # type: ignore[union-attr]
    assert "twelve percent" in extracted(cli, report_id)

    assert f"Deleted: {kb}" in cli.run("knowledge", "delete", kb)
    assert "Harbour" not in cli.run("knowledge", "list", "--simple")
    other = cli.run("files", "upload", str(notes))
    other_id = re.search(r"-> (\S+)", other).group(1)  # type: ignore[union-attr]
    assert f"Deleted: {other_id}" in cli.run("files", "delete", other_id)
    assert "not found" in cli.run("files", "show", other_id, code=1)


def extracted(cli: Admin, file_id: str) -> str:
    """The file's extracted text once its processing completed (polled through the API)."""
    with httpx.Client(base_url=cli.url, headers={"Authorization": f"Bearer {cli.token}"}) as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = http.get(f"/api/v1/files/{file_id}/process/status").json()["status"]
            if status in ("completed", "failed"):
                break
            time.sleep(0.2)
        assert status == "completed", status
        return str(http.get(f"/api/v1/files/{file_id}/data/content").json()["content"])
