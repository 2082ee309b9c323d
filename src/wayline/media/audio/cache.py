"""The speech cache: synthesized audio kept under `DATA_DIR/cache/audio/speech`, keyed by body hash.

The same text with the same voice, model and engine is synthesized once (Open WebUI
does the same). Writes are atomic (temp file + rename), so concurrent requests for one
key at worst synthesize twice; a reader sees a whole entry or a miss.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from wayline.core import errors
from wayline.media.audio.base import Audio


class SpeechCache:
    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir / "cache" / "audio" / "speech"

    async def get_or_make(
        self, scope: list[Any], body: dict[str, Any], make: Callable[[], Awaitable[Audio]]
    ) -> Audio:
        """`scope` (engine, URL) and `body` make the key; `make` synthesizes on a miss."""
        try:
            key = hashlib.sha256(
                orjson.dumps([*scope, body], option=orjson.OPT_SORT_KEYS)
            ).hexdigest()
        except (
            orjson.JSONEncodeError
        ) as exc:  # integers beyond 64 bits, lone surrogates: not forwardable
            raise errors.BadRequest(f"Invalid speech request: {exc}") from exc
        cached = await asyncio.to_thread(self._read, key)
        if cached is not None:
            return cached
        audio = await make()
        await asyncio.to_thread(self._write, key, audio)
        return audio

    def _read(self, key: str) -> Audio | None:
        try:
            return Audio(
                (self._dir / f"{key}.audio").read_bytes(),
                (self._dir / f"{key}.type").read_text().strip(),
            )
        except FileNotFoundError:
            return None

    def _write(self, key: str, audio: Audio) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        # The type first and the audio last, each atomically: the audio file's presence
        # means "complete".
        for name, data in (
            (f"{key}.type", audio.content_type.encode()),
            (f"{key}.audio", audio.data),
        ):
            tmp = self._dir / f".{name}.{uuid.uuid4().hex}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self._dir / name)
