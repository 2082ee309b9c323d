"""RAG for `/api/chat/completions`: `files` items → sources → context in the messages.

The query is the last user message as sent. Open WebUI first asks the task model to
write search queries; we do not by default: that is a second LLM round trip (hundreds
of milliseconds to seconds) before the answer starts, and it makes retrieval depend
on a sampled generation, so the same question can fetch different passages. Hybrid
search already covers the paraphrase (vectors) and exact-term (BM25) cases that query
rewriting is mostly used for.

Bad references are errors, not silence: an unknown or unreadable file or collection
is 404 naming it, a file whose processing failed is 422 with its error, and a file
still processing is waited for (bounded by KNOWLEDGE_ADD_WAIT_SECONDS), then 409.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.db import Database
from wayline.core.settings import Settings
from wayline.knowledge.repository import KnowledgeRepository
from wayline.retrieval.context import build_context, inject, last_user_query, render_template
from wayline.retrieval.service import RetrievalService
from wayline.users.schemas import UserInfo

log = logging.getLogger("wayline.rag")
DONE = ("completed", "failed")


@dataclass
class _Item:
    raw: dict[str, Any]
    kind: str  # "file" | "collection"
    id: str
    name: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return self.raw.get("context") == "full"

    def source(self) -> dict[str, Any]:
        src = {k: v for k, v in self.raw.items() if k != "data"}
        if self.name:
            src.setdefault("name", self.name)
        return src


def file_fields(row: dict[str, Any] | None) -> dict[str, Any]:
    """Open WebUI's per-file fields in each `sources[].metadata[]` entry (its chunks carry the
    file's meta): MIME type, size in bytes and the SHA-256 of the uploaded bytes. Taken from the
    file row at query time, so chunks indexed before these fields existed have them too."""
    meta = (row or {}).get("meta") or {}
    return {
        "content_type": meta.get("content_type"),
        "size": meta.get("size"),
        "file_hash": meta.get("file_hash"),
    }


def parse_items(files: Sequence[Any]) -> list[_Item]:
    """The retrieval items we act on, de-duplicated by JSON identity (as Open WebUI does)."""
    items: list[_Item] = []
    seen: set[str] = set()
    for i, raw in enumerate(files or ()):
        if not isinstance(raw, dict) or raw.get("type") not in ("file", "collection"):
            continue  # other item kinds (text, url, web_search, ...) are not ours
        ident = raw.get("id")
        if not isinstance(ident, str) or not ident:
            raise errors.BadRequest(f"files[{i}]: a {raw['type']} item needs a string 'id'")
        key = json.dumps(raw, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            items.append(_Item(raw, raw["type"], ident))
    return items


class RagAugmenter:
    """`ChatAugmenter`: mutates `body["messages"]`, returns Open WebUI `sources`."""

    def __init__(
        self, db: Database, settings: Settings, retrieval: RetrievalService, ingestion: Any
    ) -> None:
        self.db = db
        self.settings = settings
        self.retrieval = retrieval
        self.ingestion = ingestion

    async def augment(self, user: UserInfo, body: dict, files: list[dict]) -> list[dict]:
        items = parse_items(files)
        if not items:
            return []
        cfg = await self.retrieval.config()
        messages = body.get("messages") or []
        query = last_user_query(messages)
        if query.strip() and not cfg.RAG_FULL_CONTEXT and not all(i.full for i in items):
            self.retrieval.search.queries.prefetch(query)  # embed while access is checked
        sources: list[dict[str, Any]] = []
        async with self.db.sessionmaker() as session:
            await self._resolve(session, user, items, cfg.RAG_FULL_CONTEXT)
            if self._pending(items):
                await session.rollback()  # give the connection back while we wait
                await self._wait_for_pending(items)
                await self._resolve(session, user, items, cfg.RAG_FULL_CONTEXT)  # statuses changed
            self._check_direct_files(items)
            for item in items:
                ready = [f for f in item.files if f["status"] == "completed"]
                if item.full or cfg.RAG_FULL_CONTEXT:
                    docs = [f for f in ready if f.get("content")]
                    if docs:
                        sources.append(
                            {
                                "source": item.source(),
                                "document": [f["content"] for f in docs],
                                "metadata": [
                                    {
                                        "file_id": f["id"],
                                        "name": f["filename"],
                                        "source": f["filename"],
                                        **file_fields(f),
                                    }
                                    for f in docs
                                ],
                            }
                        )
                    continue
                results = await self.retrieval.search.search(
                    session, [f["id"] for f in ready], query, self.retrieval.params(cfg)
                )
                if results:
                    by_id = {f["id"]: f for f in ready}
                    sources.append(
                        {
                            "source": item.source(),
                            "document": [r.hit.text for r in results],
                            "metadata": [
                                {**r.hit.meta, **file_fields(by_id.get(r.hit.file_id))}
                                for r in results
                            ],
                            "distances": [round(r.relevance, 6) for r in results],
                        }
                    )
        context = build_context(sources)
        if context and isinstance(messages, list):
            inject(
                messages,
                render_template(cfg.RAG_TEMPLATE, context, query),
                system=self.settings.RAG_SYSTEM_CONTEXT,
            )
            body["messages"] = messages
        return sources

    async def _resolve(
        self, session: AsyncSession, user: UserInfo, items: list[_Item], full_context: bool
    ) -> None:
        repo = KnowledgeRepository(session)
        for item in items:
            if item.kind == "file":
                row = await repo.readable_file(user, item.id)
                if row is None:
                    raise errors.NotFound(f"File {item.id} not found")
                item.name, item.files = row["filename"], [row]
            else:
                knowledge = await repo.readable(user, item.id)
                if knowledge is None:
                    raise errors.NotFound(f"Knowledge base {item.id} not found")
                # Reading a collection grants reading its files; content only when injected whole.
                item.name = knowledge.name
                item.files = await repo.linked_files(
                    item.id, with_content=item.full or full_context
                )

    @staticmethod
    def _pending(items: list[_Item]) -> set[str]:
        # A file uploaded with process=false ("" status) never completes by itself; not waited for.
        return {
            f["id"]
            for item in items
            for f in item.files
            if f["status"] in ("pending", "processing")
        }

    async def _wait_for_pending(self, items: list[_Item]) -> None:
        if self.ingestion is not None:
            timeout = self.settings.KNOWLEDGE_ADD_WAIT_SECONDS
            await asyncio.gather(
                *(self.ingestion.wait_until_done(fid, timeout) for fid in self._pending(items))
            )

    def _check_direct_files(self, items: list[_Item]) -> None:
        for item in items:
            if item.kind != "file":
                continue
            f = item.files[0]
            if f["status"] == "failed":
                raise errors.Unprocessable(
                    f"File {item.id} failed processing: {f.get('error') or 'unknown error'}"
                )
            if f["status"] in ("pending", "processing"):
                raise errors.Conflict(
                    f"File {item.id} is still being processed after "
                    f"{self.settings.KNOWLEDGE_ADD_WAIT_SECONDS:g} s; "
                    "retry when its status is completed"
                )
            if f["status"] != "completed":
                raise errors.Unprocessable(
                    f"File {item.id} has not been processed (uploaded with process=false)"
                )
        # In a collection, files that failed or are still processing are skipped (logged), so one
        # bad file does not take the whole collection down.
        for item in items:
            if item.kind == "collection":
                skipped = [f["id"] for f in item.files if f["status"] != "completed"]
                if skipped:
                    log.info(
                        "collection %s: skipping files not ready: %s", item.id, ", ".join(skipped)
                    )
