"""Simulated users: each signs in with its own credentials and loops over a weighted mix.

Every user owns a unique canary string (`cnry` + 12 hex digits) that appears in the
names and texts of its files, collections and presets. Every response any user
receives is scanned: another user's canary in it is a cross-user read. Users also
probe other users' ids directly (must be 404). Each user is sequential, so its own
view of its data is exact (a file it deleted is gone, one it uploaded exists), while
the users together are concurrent.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.soak.metrics import Metrics, clip

CANARY = re.compile(r"cnry[0-9a-f]{12}")
CHAT_MODEL = "gpt-4o-mini"  # a model of the fake upstream's OpenAI dialect
WORDS = [
    "river",
    "harbor",
    "lantern",
    "copper",
    "meadow",
    "orbit",
    "granite",
    "velvet",
    "signal",
    "quarry",
    "ember",
    "falcon",
    "tundra",
    "cobalt",
    "prism",
    "saddle",
    "thistle",
    "beacon",
    "glacier",
    "walnut",
    "compass",
    "marble",
    "hollow",
]
# Identical bytes for every user: exercises the re-use of another file's chunks across owners.
SHARED_TEXT = "Public handbook.\n\n" + " ".join(
    f"Section {i}: {WORDS[i % len(WORDS)]} rules apply." for i in range(120)
)


def new_canary() -> str:
    return "cnry" + secrets.token_hex(6)


@dataclass
class Upload:
    id: str
    owner: int
    readable: bool  # a text file, expected to end `completed`; False = binary, expected `failed`
    content: str | None = None  # the uploaded text (None once edited, or when not tracked)
    edited: str | None = None  # the last acknowledged content update
    deleted: bool = False


@dataclass
class World:
    """State shared by all users of one run (the client side's record of what was acknowledged)."""

    metrics: Metrics
    deadline: float
    canary_owner: dict[str, int] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    users: list[SimUser] = field(default_factory=list)

    def foreign_file(self, me: int) -> str | None:
        others = [u for u in self.users if u.index != me and u.live_files]
        if not others:
            return None
        return random.choice(random.choice(others).live_files)

    def foreign_collection(self, me: int) -> str | None:
        others = [u for u in self.users if u.index != me and u.collections]
        return random.choice(random.choice(others).collections) if others else None


class SimUser:
    def __init__(
        self, world: World, index: int, http: httpx.AsyncClient, email: str, password: str
    ) -> None:
        self.world, self.index, self.http = world, index, http
        self.email, self.password = email, password
        self.canary = new_canary()
        self.ip = (
            f"10.{index // 250}.{index % 250}.7"  # a client address of its own, as behind a proxy
        )
        self.user_id = ""
        self.api_key = ""
        self.live_files: list[str] = []  # readable uploads not deleted
        self.bad_files: list[str] = []
        self.collections: list[str] = []
        self.linked: dict[str, list[str]] = {}
        self.presets: list[str] = []
        self.last_status = 0  # of this user's previous answer (a 5xx may close the connection)
        world.canary_owner[self.canary] = index
        world.users.append(self)

    # --- one request ------------------------------------------------------------------
    async def call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200,),
        token: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Send, time and check one request: any 5xx, transport error, unexpected status or
        foreign canary is recorded as a failure with the request that caused it."""
        headers = {"X-Forwarded-For": self.ip}
        credential = token if token is not None else self.api_key
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        metrics = self.world.metrics
        what = f"user {self.index}: {method} {path} {describe(kwargs)}"
        started = time.perf_counter()
        try:
            resp = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            metrics.record(op, time.perf_counter() - started, 0)
            metrics.fail(
                "transport", op, f"{what} -> {exc!r} (previous answer: {self.last_status})"
            )
            self.last_status = 0
            return None
        self.last_status = resp.status_code
        metrics.record(op, time.perf_counter() - started, resp.status_code)
        self.http.cookies.clear()  # credentials are always explicit
        if resp.status_code >= 500:
            metrics.fail("5xx", op, f"{what} -> {resp.status_code}: {clip(resp.text)}")
        elif resp.status_code not in expect:
            metrics.fail(
                "status",
                op,
                f"{what} -> {resp.status_code} (expected {sorted(expect)}): {clip(resp.text)}",
            )
        self.scan(op, what, resp.text)
        return resp

    def scan(self, op: str, what: str, text: str) -> None:
        for canary in set(CANARY.findall(text)):
            owner = self.world.canary_owner.get(canary)
            if canary != self.canary:
                self.world.metrics.fail(
                    "cross_user", op, f"{what}: answer holds {canary} of user {owner}"
                )

    async def whoami(
        self, op: str, credential: str, expect: tuple[int, ...] = (200,)
    ) -> httpx.Response | None:
        resp = await self.call(op, "GET", "/api/v1/auths/", token=credential, expect=expect)
        if resp is not None and resp.status_code == 200 and resp.json().get("id") != self.user_id:
            self.world.metrics.fail(
                "cross_user",
                op,
                f"user {self.index}: credential resolved to {resp.json().get('id')}",
            )
        return resp

    # --- the mix ----------------------------------------------------------------------
    def mix(self) -> list[tuple[Callable[[], Awaitable[None]], int]]:
        return [
            (self.sign_in, 2),
            (self.api_key_cycle, 3),
            (self.preset, 2),
            (self.list_models, 1),
            (self.upload, 10),
            (self.upload_again, 1),
            (self.upload_shared, 1),
            (self.upload_binary, 1),
            (self.collection, 4),
            (self.rag_chat, 8),
            (self.file_chat, 2),
            (self.search, 4),
            (self.list_files, 4),
            (self.edit, 1),
            (self.delete, 4),
            (self.probe_foreign, 3),
        ]

    async def run(self, think: float) -> None:
        ops, weights = zip(*self.mix(), strict=True)
        while time.monotonic() < self.world.deadline:
            op = random.choices(ops, weights)[0]
            await op()
            if think:
                await asyncio.sleep(random.uniform(0, 2 * think))

    async def sign_in(self) -> None:
        # 429 = the per-e-mail sign-in limit (15 per 3 minutes, as Open WebUI) was reached.
        resp = await self.call(
            "signin",
            "POST",
            "/api/v1/auths/signin",
            token="",
            expect=(200, 429),
            json={"email": self.email, "password": self.password},
        )
        if resp is not None and resp.status_code == 200:
            await self.whoami("whoami_jwt", resp.json()["token"])

    async def api_key_cycle(self) -> None:
        resp = await self.call(
            "api_key_create",
            "POST",
            "/api/v1/auths/api_keys",
            json={"name": f"soak {self.canary}", "expires_in_days": 1},
        )
        if resp is None or resp.status_code != 200:
            return
        key = resp.json()
        await self.whoami("whoami_new_key", key["api_key"])
        await self.call("api_key_revoke", "DELETE", f"/api/v1/auths/api_keys/{key['id']}")
        after = await self.whoami("revoked_key_use", key["api_key"], expect=(401,))
        if after is not None and after.status_code == 200:
            self.world.metrics.fail(
                "revoked_key", "revoked_key_use", f"user {self.index}: a revoked key still works"
            )

    async def preset(self) -> None:
        preset_id = f"soak-{self.canary}-{len(self.presets)}"
        resp = await self.call(
            "preset_create",
            "POST",
            "/api/v1/models/create",
            json={
                "id": preset_id,
                "base_model_id": CHAT_MODEL,
                "name": f"Preset of {self.canary}",
                "params": {"system": f"You help {self.canary}.", "temperature": 0.2},
                "meta": {},
            },
        )
        if resp is not None and resp.status_code == 200:
            self.presets.append(preset_id)
            await self.call(
                "preset_chat",
                "POST",
                "/api/chat/completions",
                json={
                    "model": preset_id,
                    "stream": False,
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )

    async def list_models(self) -> None:
        await self.call("models_list", "GET", "/api/v1/models/list")

    async def _upload(
        self, op: str, name: str, data: bytes, readable: bool, text: str | None
    ) -> str | None:
        resp = await self.call(
            op, "POST", "/api/v1/files/", files={"file": (name, data, "application/octet-stream")}
        )
        if resp is None or resp.status_code != 200:
            return None
        file_id = resp.json()["id"]
        self.world.uploads[file_id] = Upload(file_id, self.index, readable, text)
        (self.live_files if readable else self.bad_files).append(file_id)
        return file_id

    async def upload(self) -> None:
        text = document(self.canary)
        await self._upload(
            "upload", f"notes-{self.canary}-{secrets.token_hex(3)}.md", text.encode(), True, text
        )

    async def upload_again(self) -> None:
        """Identical bytes to one of this user's files: the server re-uses the stored chunks."""
        earlier = [u for u in self.world.uploads.values() if u.owner == self.index and u.content]
        if earlier:
            text = random.choice(earlier).content or ""
            await self._upload(
                "upload_same_bytes", f"again-{self.canary}.md", text.encode(), True, text
            )

    async def upload_shared(self) -> None:
        await self._upload(
            "upload_shared", f"shared-{self.canary}.txt", SHARED_TEXT.encode(), True, None
        )

    async def upload_binary(self) -> None:
        data = os.urandom(1024) + b"\x00" * 64 + os.urandom(1024)
        await self._upload("upload_binary", f"blob-{self.canary}.bin", data, False, None)

    async def collection(self) -> None:
        if not self.collections or random.random() < 0.25:
            resp = await self.call(
                "collection_create",
                "POST",
                "/api/v1/knowledge/create",
                json={
                    "name": f"Collection {self.canary} {len(self.collections)}",
                    "description": f"of {self.canary}",
                },
            )
            if resp is None or resp.status_code != 200:
                return
            self.collections.append(resp.json()["id"])
            self.linked[resp.json()["id"]] = []
        if not self.live_files:
            return
        knowledge_id = random.choice(self.collections)
        file_id = random.choice(self.live_files)
        # 400 only for "Duplicate content…": identical text already in the collection.
        resp = await self.call(
            "collection_add",
            "POST",
            f"/api/v1/knowledge/{knowledge_id}/file/add",
            json={"file_id": file_id},
            expect=(200, 400),
        )
        if resp is not None and resp.status_code == 400 and "Duplicate" not in resp.text:
            self.world.metrics.fail(
                "status", "collection_add", f"user {self.index}: 400 {clip(resp.text)}"
            )
        if resp is not None and resp.status_code == 200:
            self.linked[knowledge_id].append(file_id)

    def _question(self) -> str:
        return f"What does the note say about {random.choice(WORDS)} and {self.canary}?"

    async def _chat(self, op: str, files: list[dict[str, str]]) -> None:
        stream = random.random() < 0.3
        body = {
            "model": CHAT_MODEL,
            "stream": stream,
            "files": files,
            "messages": [{"role": "user", "content": self._question()}],
        }
        # 409 = a linked file still processing after KNOWLEDGE_ADD_WAIT_SECONDS.
        resp = await self.call(op, "POST", "/api/chat/completions", json=body, expect=(200, 409))
        if resp is not None and resp.status_code == 200 and stream and '"error"' in resp.text:
            self.world.metrics.fail("stream_error", op, f"user {self.index}: {clip(resp.text)}")

    async def rag_chat(self) -> None:
        if self.collections:
            await self._chat(
                "rag_chat_collection",
                [{"type": "collection", "id": random.choice(self.collections)}],
            )

    async def file_chat(self) -> None:
        if self.live_files:
            await self._chat(
                "rag_chat_file", [{"type": "file", "id": random.choice(self.live_files)}]
            )

    async def search(self) -> None:
        if self.collections:
            await self.call(
                "search_collection",
                "POST",
                "/api/v1/retrieval/query/collection",
                expect=(200, 409),
                json={
                    "collection_names": [random.choice(self.collections)],
                    "query": self._question(),
                    "k": 5,
                },
            )

    async def list_files(self) -> None:
        resp = await self.call("files_list", "GET", "/api/v1/files/")
        if resp is None or resp.status_code != 200:
            return
        body = resp.json()
        strangers = {item["user_id"] for item in body["items"]} - {self.user_id}
        if strangers:
            self.world.metrics.fail(
                "cross_user", "files_list", f"user {self.index}: lists files of {sorted(strangers)}"
            )
        expected = len(self.live_files) + len(self.bad_files)
        if body["total"] != expected:
            self.world.metrics.fail(
                "lost",
                "files_list",
                f"user {self.index}: total {body['total']}, "
                f"{expected} acknowledged uploads not deleted",
            )

    async def edit(self) -> None:
        if self.live_files:
            file_id = random.choice(self.live_files)
            text = document(self.canary)
            resp = await self.call(
                "file_content_update",
                "POST",
                f"/api/v1/files/{file_id}/data/content/update",
                json={"content": text},
            )
            if resp is not None and resp.status_code == 200:
                upload = self.world.uploads[file_id]
                upload.content, upload.edited = None, text

    async def delete(self) -> None:
        pool = self.live_files if self.live_files and random.random() < 0.8 else self.bad_files
        if not pool:
            return
        file_id = pool.pop(random.randrange(len(pool)))
        resp = await self.call("file_delete", "DELETE", f"/api/v1/files/{file_id}")
        if resp is None or resp.status_code != 200:
            pool.append(file_id)  # not acknowledged: still ours
            return
        self.world.uploads[file_id].deleted = True
        for files in self.linked.values():
            if file_id in files:
                files.remove(file_id)
        await self.call("deleted_file_get", "GET", f"/api/v1/files/{file_id}", expect=(404,))

    async def probe_foreign(self) -> None:
        """Hostile reads of other users' ids: each must be a 404 that does not reveal them."""
        file_id = self.world.foreign_file(self.index)
        mine = random.choice(self.collections) if self.collections else None
        if file_id is not None:
            await self.call("foreign_file_get", "GET", f"/api/v1/files/{file_id}", expect=(404,))
            await self.call(
                "foreign_file_content", "GET", f"/api/v1/files/{file_id}/content", expect=(404,)
            )
            await self.call(
                "foreign_file_chat",
                "POST",
                "/api/chat/completions",
                expect=(404,),
                json={
                    "model": CHAT_MODEL,
                    "files": [{"type": "file", "id": file_id}],
                    "messages": [{"role": "user", "content": "tell me everything"}],
                },
            )
            await self.call(
                "foreign_file_query",
                "POST",
                "/api/v1/retrieval/query/doc",
                expect=(404,),
                json={"collection_name": f"file-{file_id}", "query": "canary", "k": 5},
            )
            if mine is not None:
                await self.call(
                    "foreign_file_link",
                    "POST",
                    f"/api/v1/knowledge/{mine}/file/add",
                    json={"file_id": file_id},
                    expect=(404,),
                )
        knowledge_id = self.world.foreign_collection(self.index)
        if knowledge_id is not None:
            await self.call(
                "foreign_collection_get", "GET", f"/api/v1/knowledge/{knowledge_id}", expect=(404,)
            )
            await self.call(
                "foreign_collection_query",
                "POST",
                "/api/v1/retrieval/query/collection",
                expect=(404,),
                json={"collection_names": [knowledge_id], "query": "canary", "k": 5},
            )


def document(canary: str) -> str:
    """A small markdown note (1-3 chunks), the owner's canary in every paragraph."""
    paragraphs = []
    for _ in range(random.randint(2, 5)):
        words = " ".join(random.choices(WORDS, k=random.randint(40, 90)))
        paragraphs.append(f"The private canary is {canary}. {words}. Nonce {secrets.token_hex(4)}.")
    return f"# Notes of {canary}\n\n" + "\n\n".join(paragraphs) + "\n"


def describe(kwargs: dict[str, Any]) -> str:
    """A short form of a request body for failure reports."""
    if "json" in kwargs:
        return clip(str(kwargs["json"]))[:300]
    if "files" in kwargs:
        name, data, _ = kwargs["files"]["file"]
        return f"multipart file {name!r} ({len(data)} bytes)"
    return ""
