"""One soak run against an already running server: sign-ups, the timed load, then the checks.

    result = asyncio.run(run_soak(url, database_url, data_dir, SoakConfig(users=10, seconds=10)))
    print(result.report()); assert result.ok

The server must talk to the fake upstream: start it with `server_env(fake_openai_url)`.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.soak.checks import check_blobs, check_database, settle_uploads
from tests.soak.metrics import Metrics, clip
from tests.soak.workload import SimUser, World


@dataclass
class SoakConfig:
    users: int = 50
    seconds: float = 60.0
    think: float = 0.02  # mean pause between one user's operations (seconds)
    settle_seconds: float = 120.0  # bounded wait for uploads to finish processing after the load
    request_timeout: float = 120.0


def server_env(fake_openai_url: str, embedder: str = "fake") -> dict[str, str]:
    """Settings for the server under soak: chat and (by default) embeddings on the fake upstream.

    `embedder="local"` keeps the bundled MiniLM instead (CPU-bound: far fewer uploads finish)."""
    env = {
        "OPENAI_API_BASE_URLS": fake_openai_url,
        "OPENAI_API_KEYS": "sk-soak",
        "ENABLE_OLLAMA_API": "false",
        # A chat naming a collection waits for its pending files; keep that wait inside the run.
        "KNOWLEDGE_ADD_WAIT_SECONDS": "20",
        "LOG_LEVEL": "WARNING",
    }
    if embedder == "fake":
        env |= {
            "RAG_EMBEDDING_ENGINE": "openai",
            "RAG_EMBEDDING_MODEL": "text-embedding-3-small",
            "RAG_OPENAI_API_BASE_URL": fake_openai_url,
            "RAG_OPENAI_API_KEY": "sk-soak",
        }
    return env


@dataclass
class SoakResult:
    config: SoakConfig
    metrics: Metrics
    elapsed: float
    counts: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.metrics.failures

    def report(self, limit: int = 40) -> str:
        m = self.metrics
        requests = sum(len(v) for v in m.latencies.values())
        lines = [
            f"soak: {self.config.users} users, {self.config.seconds:.0f} s of load, "
            f"{requests} requests ({requests / self.elapsed:.0f}/s over {self.elapsed:.1f} s "
            "incl. sign-up and checks)",
            "",
            m.table(),
            "",
            "database and disk checks (each must be 0):",
        ]
        lines += [f"  {name:<48} {count}" for name, count in self.counts.items()]
        lines.append("")
        if not m.failures:
            lines.append("invariants: all held")
        for kind, items in sorted(m.by_kind().items()):
            shown = len(items) if kind == "5xx" else limit  # every 5xx is listed, with its body
            lines.append(f"FAILED [{kind}] x{len(items)}")
            lines += [f"  {f.render()}" for f in items[:shown]]
            if len(items) > shown:
                lines.append(f"  … {len(items) - shown} more")
        if self.server_errors:
            lines += ["", f"server log: {len(self.server_errors)} distinct errors"]
            lines += [clip(e) for e in self.server_errors[:limit]]
        return "\n".join(lines)


async def run_soak(
    base_url: str, database_url: str, data_dir: Path, config: SoakConfig
) -> SoakResult:
    started = time.monotonic()
    metrics = Metrics()
    world = World(metrics, deadline=float("inf"))
    timeout = httpx.Timeout(config.request_timeout, connect=10)
    clients: list[httpx.AsyncClient] = []

    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them: reusing
    # one at that instant races the server's close ("disconnected without a response").
    limits = httpx.Limits(keepalive_expiry=2.0)

    def client() -> httpx.AsyncClient:
        clients.append(httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits))
        return clients[-1]

    try:
        # The first sign-up (the admin) only promotes the others: an admin may read every file,
        # so it cannot take part in the cross-user canary checks.
        admin = SimUser(
            World(metrics, deadline=0), -1, client(), "soak-admin@example.com", "soak-admin-pw"
        )
        admin.ip = "10.255.0.1"
        admin_token = await sign_up(admin, "Soak Admin", None)
        if admin_token is None:
            raise RuntimeError(f"the admin sign-up failed: {metrics.failures}")
        users = [
            SimUser(world, i, client(), f"soak-{i}@example.com", f"soak-pw-{i}")
            for i in range(config.users)
        ]
        ready = await asyncio.gather(
            *(sign_up(u, f"Soak User {i}", admin_token) for i, u in enumerate(users))
        )
        active = [u for u, token in zip(users, ready, strict=True) if token is not None]

        world.deadline = time.monotonic() + config.seconds
        await asyncio.gather(*(u.run(config.think) for u in active))
        await settle_uploads(world, config.settle_seconds)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    counts = await asyncio.to_thread(check_database, metrics, world, database_url)
    counts |= await asyncio.to_thread(check_blobs, metrics, database_url, data_dir / "uploads")
    return SoakResult(config, metrics, time.monotonic() - started, counts)


async def sign_up(user: SimUser, name: str, admin_token: str | None) -> str | None:
    """Sign `user` up, have the admin make it a `user` if it is pending, and give it an API key."""
    resp = await user.call(
        "signup",
        "POST",
        "/api/v1/auths/signup",
        token="",
        json={"name": name, "email": user.email, "password": user.password},
    )
    if resp is None or resp.status_code != 200:
        return None
    body = resp.json()
    user.user_id, token = body["id"], body["token"]
    if admin_token is not None and body["role"] != "user":
        promoted = await user.call(
            "promote",
            "POST",
            "/api/v1/users/update/role",
            token=admin_token,
            json={"id": user.user_id, "role": "user"},
        )
        if promoted is None or promoted.status_code != 200:
            return None
    key = await user.call("api_key_default", "POST", "/api/v1/auths/api_key", token=token)
    if key is None or key.status_code != 200:
        return None
    user.api_key = key.json()["api_key"]
    return token


_RECORD = re.compile(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|ERROR:|WARNING:|INFO:)")
_FRAME = re.compile(r'File "[^"]*/(wayline/[^"]+)", line (\d+), in (\w+)')
_EXCEPTION = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:: .*)?$", re.MULTILINE
)  # "pkg.mod.SomeError: …"
_MIDDLEWARE = {
    "wayline/apidocs/aliases.py",
    "wayline/core/limits.py",
}  # on every request's path: noise
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def server_log_errors(log_path: Path) -> list[str]:
    """Distinct tracebacks in a server log: grouped by the log line that introduced them, the
    Wayline frames they passed through and the final exception; each with its count."""
    if not log_path.exists():
        return []
    groups: dict[tuple[str, tuple[str, ...], str], int] = {}
    for record in _RECORD.split(log_path.read_text(errors="replace")):
        if "Traceback (most recent call last)" not in record:
            continue
        header = _ID.sub("<id>", record.split("\n", 1)[0].split(" ", 2)[-1]).strip()
        frames = tuple(
            dict.fromkeys(
                f"{path}:{line} {fn}"
                for path, line, fn in _FRAME.findall(record)
                if path not in _MIDDLEWARE
            )
        )
        exceptions = [e for e in _EXCEPTION.findall(record) if "Enable tracemalloc" not in e]
        key = (header, frames, exceptions[-1][:200] if exceptions else "?")
        groups[key] = groups.get(key, 0) + 1
    return [
        f"x{count} {header}\n    " + "\n    ".join(frames) + f"\n    => {exc}"
        for (header, frames, exc), count in sorted(groups.items(), key=lambda kv: -kv[1])
    ]
