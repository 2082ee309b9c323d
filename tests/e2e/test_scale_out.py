"""Scale-out on one machine as on several: two `wayline serve` replicas (A and B) with different
`DATA_DIR`s and `INGEST_WORKERS=0`, plus `wayline worker` processes, sharing nothing but
PostgreSQL + pgvector, Redis and an S3-compatible bucket (moto_server).

PostgreSQL: the one `WAYLINE_TEST_DATABASE_URL` names (a fresh database in it), or else a
throwaway server started with `scripts/pgvector-server` for this module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from tests.conftest import PG_URL, SECRET, LiveServer, free_port, start_server
from tests.e2e.cli import REDIS_URL, start_redis
from tests.fakes.s3 import MotoS3
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PARAGRAPH = (
    "Wayline replicas share PostgreSQL, Redis and an object store. The upload of {n} went to "
    "replica A, its bytes to the bucket, its chunks to whichever worker claimed the job first. "
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server with pgvector: its admin URL."""
    if PG_URL:
        yield PG_URL
        return
    # Not under pytest's 0700 temporary folder: the server runs as its own unprivileged user.
    folder = tempfile.mkdtemp(prefix="wayline-pgvector-")
    script = str(ROOT / "scripts" / "pgvector-server")
    started = subprocess.run(
        [script, "start", str(free_port()), folder], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([script, "stop", folder], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(postgres: str) -> Iterator[str]:
    name = f"wl_scale_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres.rpartition("/")[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Cluster:
    database: str
    env: dict[str, str]
    root: Path
    servers: list[LiveServer] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def replica(self, name: str) -> LiveServer:
        data_dir = self.root / name / "data"
        data_dir.mkdir(parents=True)
        server = start_server({**self.env, "INGEST_WORKERS": "0"}, data_dir, self.database)
        self.servers.append(server)
        return server

    def worker(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """A `wayline worker` with its own DATA_DIR, once it says it is ready."""
        data_dir = self.root / name / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OLLAMA_"))}
        env.update(
            self.env,
            DATA_DIR=str(data_dir),
            DATABASE_URL=self.database,
            WEBUI_SECRET_KEY=SECRET,
            LOG_LEVEL="INFO",
        )
        log_path = self.root / f"{name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "wayline", "worker", *args], env=env, stdout=log, stderr=log
            )
        self.workers.append(proc)
        deadline = time.monotonic() + 90
        while b"wayline worker ready" not in log_path.read_bytes():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the worker did not start in 90 s"
            time.sleep(0.1)
        return proc

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        for server in self.servers:
            server.stop()


@pytest.fixture
def cluster(
    tmp_path: Path,
    database: str,
    s3_server: MotoS3,
    fake_upstream: FakeUpstream,
) -> Iterator[Cluster]:
    prefix = f"wl-scale-{uuid.uuid4().hex[:8]}"
    env = {
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        **s3_server.env(s3_server.create_bucket(), prefix="uploads/"),
        "OPENAI_API_BASE_URLS": fake_upstream.openai_url,
        "OPENAI_API_KEYS": "sk-fake-upstream",
        "ENABLE_OLLAMA_API": "false",
    }
    made = Cluster(database, env, tmp_path)
    yield made
    made.stop()
    shared = redis.Redis.from_url(REDIS_URL)
    for key in shared.scan_iter(f"{prefix}:*"):
        shared.delete(key)
    shared.close()


def signup_admin(url: str) -> dict[str, str]:
    resp = httpx.post(
        f"{url}/api/v1/auths/signup",
        json={"name": "Admin", "email": "admin@example.com", "password": "admin-password"},
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def upload(url: str, auth: dict[str, str], name: str, body: bytes) -> str:
    resp = httpx.post(
        f"{url}/api/v1/files/",
        headers=auth,
        files={"file": (name, body, "text/plain")},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def progress_events(url: str, auth: dict[str, str], file_id: str) -> list[dict[str, Any]]:
    """The file's processing status stream, read to its end."""
    with httpx.stream(
        "GET",
        f"{url}/api/v1/files/{file_id}/process/status?stream=true",
        headers=auth,
        timeout=300,
    ) as resp:
        assert resp.status_code == 200
        return [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: ")]


def chunk_rows(database: str, file_id: str) -> tuple[int, int]:
    """(chunks, distinct chunk positions) stored for the file."""
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT idx) FROM chunk WHERE file_id = %s", (file_id,)
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def claimant(database: str, file_id: str) -> tuple[str, str | None]:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT status, claimed_by FROM file WHERE id = %s",
            (file_id,),
        ).fetchone()
    assert row is not None
    return str(row[0]), row[1]


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "uploads" in p.parts]


def test_replicas_share_nothing_but_the_database_redis_and_the_bucket(
    cluster: Cluster, s3_server: MotoS3, fake_upstream: FakeUpstream
) -> None:
    a, b = cluster.replica("a"), cluster.replica("b")
    metrics_port = free_port()
    cluster.worker("worker-1", "--metrics-port", str(metrics_port))
    admin = signup_admin(a.url)

    # An upload on A is processed by the worker, followed from B, searched and read through B.
    # The worker announces the job's end over Redis (what wakes B's stream and A's waiters).
    listener = redis.Redis.from_url(REDIS_URL).pubsub()
    listener.subscribe(f"{cluster.env['REDIS_KEY_PREFIX']}:bus")
    text = "".join(PARAGRAPH.format(n=n) for n in range(3)) + "The password is aubergine."
    file_id = upload(a.url, admin, "notes.txt", text.encode())
    events = progress_events(b.url, admin, file_id)
    assert events[-1]["status"] == "completed", events
    announced = []
    deadline = time.monotonic() + 10
    while file_id not in announced and time.monotonic() < deadline:
        message = listener.get_message(timeout=1.0)
        if message is not None and message["type"] == "message":
            envelope = json.loads(message["data"])
            if envelope["topic"] == "ingestion.progress":
                announced.append(envelope["message"]["id"])
    listener.close()
    assert file_id in announced
    # The worker's own metrics (no replica sees them) count the chunks it indexed.
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert scraped.status_code == 200
    chunks = re.search(r"^wayline_ingestion_chunks_total (\S+)$", scraped.text, re.MULTILINE)
    assert chunks is not None and float(chunks.group(1)) >= 1, scraped.text[:2000]
    found = httpx.post(
        f"{b.url}/api/v1/retrieval/query/doc",
        headers=admin,
        json={"collection_name": f"file-{file_id}", "query": "what is the password?", "k": 2},
        timeout=60,
    )
    assert found.status_code == 200, found.text
    assert "aubergine" in found.json()["documents"][0][0]
    content = httpx.get(f"{b.url}/api/v1/files/{file_id}/content", headers=admin)
    assert content.status_code == 200 and content.content == text.encode()
    bucket = cluster.env["S3_BUCKET_NAME"]
    assert [k for k in s3_server.keys(bucket) if file_id in k]
    assert not files_under(cluster.root)  # no replica or worker kept the bytes on its disk

    # A key revoked on A is refused on B at its next request.
    created = httpx.post(f"{a.url}/api/v1/auths/api_keys", headers=admin, json={"name": "ci"})
    assert created.status_code == 200, created.text
    key = {"Authorization": f"Bearer {created.json()['api_key']}"}
    assert httpx.get(f"{b.url}/api/models", headers=key).status_code == 200
    revoked = httpx.delete(f"{a.url}/api/v1/auths/api_keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert httpx.get(f"{b.url}/api/models", headers=key).status_code == 401

    # A preset created on B is in A's model list at once.
    assert "quick-helper" not in {
        m["id"] for m in httpx.get(f"{a.url}/api/models", headers=admin).json()["data"]
    }
    preset = {"id": "quick-helper", "base_model_id": "gpt-4o-mini", "name": "Quick helper"}
    made = httpx.post(f"{b.url}/api/v1/models/create", headers=admin, json=preset)
    assert made.status_code == 200, made.text
    listed = httpx.get(f"{a.url}/api/models", headers=admin).json()["data"]
    assert "quick-helper" in {m["id"] for m in listed}

    # The gateway's rate limit holds across A and B.
    limited = httpx.post(
        f"{a.url}/api/v1/auths/api_keys", headers=admin, json={"name": "rl", "rpm_limit": 10}
    )
    limited_key = {"Authorization": f"Bearer {limited.json()['api_key']}"}
    before = len(fake_upstream.requests_to("/v1/chat/completions"))
    hi = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    with ThreadPoolExecutor(30) as pool:
        answers = list(
            pool.map(
                lambda i: httpx.post(
                    f"{(a, b)[i % 2].url}/api/chat/completions",
                    headers=limited_key,
                    json=hi,
                    timeout=60,
                ),
                range(30),
            )
        )
    assert sorted(r.status_code for r in answers) == [200] * 10 + [429] * 20
    assert len(fake_upstream.requests_to("/v1/chat/completions")) - before == 10


def test_a_killed_workers_job_is_finished_by_another_with_one_chunk_set(
    cluster: Cluster,
) -> None:
    a = cluster.replica("a")
    admin = signup_admin(a.url)
    first = cluster.worker("worker-1")
    # Long enough for the local model to take several seconds: the kill lands mid-job.
    text = "\n\n".join(PARAGRAPH.format(n=n) * 4 for n in range(150))
    file_id = upload(a.url, admin, "long.txt", text.encode())
    deadline = time.monotonic() + 120
    while claimant(cluster.database, file_id)[0] != "processing":
        assert time.monotonic() < deadline, claimant(cluster.database, file_id)
        time.sleep(0.05)
    held_by = claimant(cluster.database, file_id)[1]
    assert held_by and held_by.split(":")[2] == str(first.pid)  # the worker holds it
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert claimant(cluster.database, file_id)[0] == "processing"  # left behind, mid-job

    second = cluster.worker("worker-2")
    events = progress_events(a.url, admin, file_id)
    assert events[-1]["status"] == "completed", events
    status, finisher = claimant(cluster.database, file_id)
    assert status == "completed"
    chunks, positions = chunk_rows(cluster.database, file_id)
    assert chunks == positions > 10  # one chunk set: no position twice
    assert finisher is None or finisher.split(":")[2] == str(second.pid)


def test_a_replica_on_an_older_release_refuses_a_newer_schema(
    tmp_path: Path, database: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    first = start_server({"INGEST_WORKERS": "0"}, data_dir, database)
    first.stop()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999_from_the_future'")
    port = free_port()
    with pytest.raises(RuntimeError, match="exited"):
        start_server({}, data_dir, database, port)
    log = (tmp_path / f"server-{port}.log").read_text()
    assert "0999_from_the_future, which this release of Wayline does not know" in log


def test_a_redis_outage_loses_no_change_and_the_replicas_catch_up_when_it_is_back(
    tmp_path: Path, database: str
) -> None:
    port = free_port()
    outage = start_redis(port, tmp_path)
    cluster = Cluster(database, {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}, tmp_path)
    try:
        a, b = cluster.replica("a"), cluster.replica("b")
        admin = signup_admin(a.url)
        created = httpx.post(f"{a.url}/api/v1/auths/api_keys", headers=admin, json={"name": "k"})
        key = {"Authorization": f"Bearer {created.json()['api_key']}"}
        assert httpx.get(f"{b.url}/api/models", headers=key).status_code == 200  # B caches it

        outage.kill()
        outage.wait(10)
        # Changes made meanwhile are written and answered, not lost behind a 500.
        revoked = httpx.delete(
            f"{a.url}/api/v1/auths/api_keys/{created.json()['id']}", headers=admin, timeout=30
        )
        assert revoked.status_code == 200, revoked.text
        assert httpx.get(f"{a.url}/api/models", headers=key).status_code == 401  # A knows

        back = start_redis(port, tmp_path)
        try:
            # B's subscription comes back and drops what it cached: the key is refused there
            # too, long before its cache entry would have expired (AUTH_CACHE_TTL, 60 s).
            deadline = time.monotonic() + 20
            while httpx.get(f"{b.url}/api/models", headers=key).status_code != 401:
                assert time.monotonic() < deadline, "B still accepts a key revoked on A"
                time.sleep(0.2)
            # And the bus carries changes again: a second key revoked on A is refused on B
            # at once.
            second = httpx.post(
                f"{a.url}/api/v1/auths/api_keys", headers=admin, json={"name": "k2"}
            ).json()
            key2 = {"Authorization": f"Bearer {second['api_key']}"}
            assert httpx.get(f"{b.url}/api/models", headers=key2).status_code == 200
            httpx.delete(f"{a.url}/api/v1/auths/api_keys/{second['id']}", headers=admin)
            assert httpx.get(f"{b.url}/api/models", headers=key2).status_code == 401
        finally:
            back.kill()
            back.wait(10)
    finally:
        cluster.stop()
