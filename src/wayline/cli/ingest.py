"""`wayline ingest PATH...`: upload files, or whole folders, to a running server over its HTTP
API, optionally into a knowledge collection, with progress on stderr and a table of what
completed and what failed (and why) on stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wayline.cli.common import CliError, print_table

if TYPE_CHECKING:
    import httpx

TERMINAL = ("completed", "failed", "not_found")
RECONNECTS = 5


def register(sub: Any) -> None:
    cmd = sub.add_parser(
        "ingest",
        help="upload files or folders to a running server",
        description=(
            "Upload files, or the files of folders, to a running server (POST /api/v1/files/), "
            "wait until each is extracted and indexed, and add it to a knowledge collection "
            "(found by name, created if missing). Exit 1 if any file failed."
        ),
    )
    cmd.add_argument("paths", nargs="+", metavar="PATH", help="a file or a folder")
    cmd.add_argument("--collection", metavar="NAME", help="add the files to this collection")
    cmd.add_argument(
        "--url", default=os.environ.get("WAYLINE_URL"), help="the server (default: $WAYLINE_URL)"
    )
    cmd.add_argument(
        "--api-key",
        default=os.environ.get("WAYLINE_API_KEY"),
        metavar="KEY",
        help="an API key or JWT (default: $WAYLINE_API_KEY, which keeps it out of `ps`)",
    )
    cmd.add_argument(
        "--recursive", action="store_true", help="include the folders' sub-folders too"
    )
    cmd.add_argument(
        "--jobs", type=int, default=4, metavar="N", help="files in flight at once (default 4)"
    )
    cmd.set_defaults(run=run)


@dataclass
class Outcome:
    path: str
    status: str = "pending"  # then: completed, skipped or failed
    file_id: str = ""
    chunks: int | None = None
    detail: str = ""


@dataclass
class Progress:
    """Files done of all, and chunks embedded of those known so far, written to stderr."""

    total: int
    done: int = 0
    chunks: dict[str, tuple[int, int]] = field(default_factory=dict)
    live: bool = field(default_factory=lambda: sys.stderr.isatty())

    def update(self, path: str, done: int, total: int) -> None:
        self.chunks[path] = (done, total)
        if self.live:
            chunks_done = sum(d for d, _ in self.chunks.values())
            chunks_total = sum(t for _, t in self.chunks.values())
            sys.stderr.write(
                f"\r\x1b[Kingest: {self.done}/{self.total} files, "
                f"{chunks_done}/{chunks_total} chunks"
            )
            sys.stderr.flush()

    def finished(self, outcome: Outcome) -> None:
        self.done += 1
        what = outcome.status
        if outcome.status == "completed" and outcome.chunks is not None:
            what += f" ({outcome.chunks} chunks)"
        elif outcome.detail:
            what += f": {outcome.detail}"
        prefix = "\r\x1b[K" if self.live else ""
        print(f"{prefix}ingest: [{self.done}/{self.total}] {outcome.path} {what}", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    if not args.url:
        raise CliError("ingest: give the server with --url (or WAYLINE_URL)")
    if not args.api_key:
        raise CliError("ingest: give an API key with --api-key (or WAYLINE_API_KEY)")
    if args.jobs < 1:
        raise CliError("ingest: --jobs must be at least 1")
    files = collect(args.paths, args.recursive)
    outcomes = asyncio.run(_ingest(args, files))
    print_table(
        ("status", "file", "chunks", "detail"),
        [(o.status, o.path, _chunks(o), o.detail or o.file_id) for o in outcomes],
    )
    failed = sum(o.status == "failed" for o in outcomes)
    if failed:
        raise CliError(f"ingest: {failed} of {len(outcomes)} files failed")


def _chunks(outcome: Outcome) -> object:
    return outcome.chunks if outcome.status == "completed" and outcome.chunks is not None else "-"


def collect(paths: list[str], recursive: bool) -> list[Path]:
    """The files named, and those in the folders named (hidden ones skipped), in order."""
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            pattern = "**/*" if recursive else "*"
            files.extend(
                found
                for found in sorted(path.glob(pattern))
                if found.is_file()
                and not any(part.startswith(".") for part in found.relative_to(path).parts)
            )
        elif path.exists():
            raise CliError(f"ingest: {text} is neither a file nor a folder")
        else:
            raise CliError(f"ingest: {text} does not exist")
    if not files:
        raise CliError("ingest: no files to upload" + ("" if recursive else " (try --recursive)"))
    return list(dict.fromkeys(files))


def detail_of(resp: httpx.Response) -> str:
    """The server's reason for a refusal, in one line."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    detail: Any = None
    if isinstance(body, dict):
        detail = body.get("detail")
        if detail is None and isinstance(body.get("error"), dict):
            detail = body["error"].get("message")
    if isinstance(detail, list):  # a validation error: its messages
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    text = str(detail) if detail else resp.text.strip() or resp.reason_phrase
    return f"HTTP {resp.status_code}: {' '.join(text.split())[:300]}"


async def _ingest(args: argparse.Namespace, files: list[Path]) -> list[Outcome]:
    import httpx

    headers = {"Authorization": f"Bearer {args.api_key}", "Accept": "application/json"}
    timeout = httpx.Timeout(60.0, connect=10.0)
    try:
        async with httpx.AsyncClient(
            base_url=args.url.rstrip("/"), headers=headers, timeout=timeout
        ) as http:
            me = await http.get("/api/v1/auths/")
            if me.status_code != 200:
                raise CliError(f"ingest: {args.url} refused the API key: {detail_of(me)}")
            collection = await _collection(http, args.collection) if args.collection else None
            progress = Progress(len(files))
            turns = asyncio.Semaphore(args.jobs)
            outcomes = await asyncio.gather(
                *(_one(http, path, collection, progress, turns) for path in files)
            )
    except httpx.HTTPError as exc:
        raise CliError(f"ingest: cannot reach {args.url}: {exc or type(exc).__name__}") from None
    if collection is not None:
        print(f"ingest: collection {args.collection!r} is {collection}", file=sys.stderr)
    return list(outcomes)


async def _collection(http: httpx.AsyncClient, name: str) -> str:
    """The id of the collection called `name` that this key may write, created if none is."""
    readonly = False
    page = 1
    while True:
        resp = await http.get("/api/v1/knowledge/", params={"page": page})
        if resp.status_code != 200:
            raise CliError(f"ingest: cannot list collections: {detail_of(resp)}")
        items = resp.json().get("items") or []
        for item in items:
            if item.get("name") == name:
                if item.get("write_access"):
                    return str(item["id"])
                readonly = True
        if not items or page * len(items) >= int(resp.json().get("total", 0)):
            break
        page += 1
    if readonly:
        raise CliError(f"ingest: collection {name!r} is not writable with this API key")
    resp = await http.post("/api/v1/knowledge/create", json={"name": name, "description": ""})
    if resp.status_code != 200:
        raise CliError(f"ingest: cannot create collection {name!r}: {detail_of(resp)}")
    print(f"ingest: created collection {name!r}", file=sys.stderr)
    return str(resp.json()["id"])


async def _one(
    http: httpx.AsyncClient,
    path: Path,
    collection: str | None,
    progress: Progress,
    turns: asyncio.Semaphore,
) -> Outcome:
    import httpx

    outcome = Outcome(str(path))
    async with turns:
        try:
            await _upload(http, path, collection, progress, outcome)
        except (httpx.HTTPError, OSError) as exc:
            outcome.status, outcome.detail = "failed", f"{type(exc).__name__}: {exc}".strip()
        except _Failed as exc:
            outcome.status, outcome.detail = "failed", str(exc)
    progress.finished(outcome)
    return outcome


class _Failed(Exception):
    pass


async def _upload(
    http: httpx.AsyncClient,
    path: Path,
    collection: str | None,
    progress: Progress,
    outcome: Outcome,
) -> None:
    import httpx

    try:
        fh = await asyncio.to_thread(path.open, "rb")
    except OSError as exc:
        raise _Failed(f"cannot read the file: {exc.strerror or exc}") from None
    with fh:
        resp = await http.post(
            "/api/v1/files/",
            files={"file": (path.name, fh)},
            timeout=httpx.Timeout(None, connect=10.0),
        )
    if resp.status_code != 200:
        raise _Failed(detail_of(resp))
    outcome.file_id = str(resp.json()["id"])
    final = await _watch(http, outcome.file_id, path, progress)
    total = (final.get("progress") or {}).get("total")
    outcome.chunks = int(total) if total is not None else None
    if final["status"] == "failed":
        raise _Failed(final.get("error") or "processing failed")
    if final["status"] != "completed":
        raise _Failed("the file is gone from the server (deleted while processing?)")
    if collection is not None:
        added = await http.post(
            f"/api/v1/knowledge/{collection}/file/add", json={"file_id": outcome.file_id}
        )
        if added.status_code != 200:
            if await _duplicate(http, added, outcome.file_id):
                outcome.status, outcome.detail = "skipped", "same content already in the collection"
                return
            raise _Failed(f"not added to the collection: {detail_of(added)}")
    outcome.status = "completed"


async def _duplicate(http: httpx.AsyncClient, resp: httpx.Response, file_id: str) -> bool:
    """The collection already holds this content (ingesting a folder again): the new upload is
    removed, and the file is skipped rather than failed."""
    from wayline.core.errors import DUPLICATE_CONTENT

    try:
        duplicate = resp.status_code == 400 and resp.json().get("detail") == DUPLICATE_CONTENT
    except ValueError:
        return False
    if duplicate:
        await http.delete(f"/api/v1/files/{file_id}")
    return duplicate


async def _watch(
    http: httpx.AsyncClient, file_id: str, path: Path, progress: Progress
) -> dict[str, Any]:
    """Follow `/process/status?stream=true` (one SSE event per change) to a final status,
    reconnecting when the stream ends early."""
    import httpx

    url = f"/api/v1/files/{file_id}/process/status"
    failures = 0
    while True:
        try:
            async with http.stream(
                "GET", url, params={"stream": "true"}, timeout=httpx.Timeout(30.0, read=None)
            ) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    raise _Failed(f"cannot follow processing: {detail_of(resp)}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line[len("data:") :].strip())
                    counts = event.get("progress") or {}
                    progress.update(str(path), counts.get("done", 0), counts.get("total", 0))
                    if event.get("status") in TERMINAL:
                        return dict(event)
        except (httpx.TransportError, ValueError) as exc:
            failures += 1
            if failures > RECONNECTS:
                raise _Failed(f"lost the processing status: {exc}") from None
        await asyncio.sleep(min(0.5 * 2**failures, 5.0))
