"""Speech-to-text and text-to-speech through the configured engine; speech cached by body hash."""

from __future__ import annotations

import fnmatch
import mimetypes
from pathlib import Path
from typing import Any

from wayline.auth.limits.gate import allow_model
from wayline.core import errors
from wayline.core.state import Core
from wayline.core.usage import TRANSCRIPTION
from wayline.media.audio import engines
from wayline.media.audio.base import Audio
from wayline.media.audio.cache import SpeechCache
from wayline.media.audio.schemas import (
    AudioConfig,
    RealtimeConfig,
    SpeechRequest,
    STTConfig,
    TTSConfig,
)
from wayline.usage.observe import count_transcript
from wayline.usage.scope import UNMETERED, UsageScope

SECTION = "audio"
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for /audio/transcriptions
_UNTYPED = ("", "application/octet-stream")


class AudioService:
    def __init__(self, core: Core) -> None:
        self._core = core
        self._settings = core.settings

    # --- configuration ------------------------------------------------------------------
    async def config(self) -> AudioConfig:
        return await self._core.runtime_config.get(
            SECTION, AudioConfig.from_settings(self._settings)
        )

    async def update_config(
        self, tts: TTSConfig | None, stt: STTConfig | None, realtime: RealtimeConfig | None = None
    ) -> AudioConfig:
        current = await self.config()
        if realtime is not None and realtime.ENABLED:
            raise errors.BadRequest(
                "realtime.ENABLED: realtime voice calls (/api/v1/audio/realtime) are not served "
                "by Wayline; leave it false"
            )
        # Only the fields the admin sent change; the rest keep their current values.
        if realtime is not None:
            current = current.model_copy(
                update={
                    "realtime": current.realtime.model_copy(
                        update=realtime.model_dump(include=realtime.model_fields_set)
                    )
                }
            )
        if tts is not None:
            current = current.model_copy(
                update={
                    "tts": current.tts.model_copy(
                        update=tts.model_dump(include=tts.model_fields_set)
                    )
                }
            )
        if stt is not None:
            current = current.model_copy(
                update={
                    "stt": current.stt.model_copy(
                        update=stt.model_dump(include=stt.model_fields_set)
                    )
                }
            )
        engines.check_tts(current.tts.ENGINE)
        engines.check_stt(current.stt.ENGINE)
        current.tts.OPENAI_API_BASE_URL = current.tts.OPENAI_API_BASE_URL.rstrip("/")
        current.stt.OPENAI_API_BASE_URL = current.stt.OPENAI_API_BASE_URL.rstrip("/")
        return await self._core.runtime_config.update(SECTION, current)

    # --- speech to text -------------------------------------------------------------------
    def _check_type(self, cfg: STTConfig, filename: str, content_type: str) -> tuple[str, str]:
        """The (filename, content type) to forward, or 415 naming the setting that decides."""
        ext = Path(filename).suffix.lower().lstrip(".")
        allowed_ext = [e.strip().lower().lstrip(".") for e in cfg.ALLOWED_EXTENSIONS if e.strip()]
        if content_type in _UNTYPED and ext:
            content_type = mimetypes.guess_type(f"x.{ext}")[0] or content_type
        allowed_types = cfg.SUPPORTED_CONTENT_TYPES or ["audio/*", "video/webm"]
        if not any(fnmatch.fnmatch(content_type, pattern) for pattern in allowed_types):
            raise errors.UnsupportedMediaType(
                f"Audio type '{content_type or 'unknown'}' is not supported: "
                f"allowed are {', '.join(allowed_types)} (AUDIO_STT_SUPPORTED_CONTENT_TYPES)"
            )
        if ext and allowed_ext and ext not in allowed_ext:
            raise errors.UnsupportedMediaType(
                f"File extension '.{ext}' is not supported: "
                f"allowed are {', '.join(allowed_ext)} (AUDIO_STT_ALLOWED_EXTENSIONS)"
            )
        if not ext:
            filename = f"{filename or 'audio'}{mimetypes.guess_extension(content_type) or '.wav'}"
        return filename, content_type

    async def transcribe(
        self,
        audio: bytes,
        filename: str,
        content_type: str,
        language: str | None,
        user_id: str = "",
        usage: UsageScope = UNMETERED,
    ) -> dict[str, Any]:
        cfg = (await self.config()).stt
        filename, content_type = self._check_type(
            cfg, filename or "audio", (content_type or "").lower()
        )
        if not audio:
            raise errors.BadRequest(errors.EMPTY_CONTENT)
        if len(audio) > MAX_AUDIO_BYTES:
            raise errors.PayloadTooLarge(
                f"Audio files are limited to {MAX_AUDIO_BYTES // (1024 * 1024)} MB"
            )
        if not cfg.ENGINE:
            raise errors.BadRequest(
                "Speech-to-text is not configured: set AUDIO_STT_ENGINE=openai and "
                "AUDIO_STT_OPENAI_API_BASE_URL (or POST /api/v1/audio/config/update)"
            )
        if not cfg.OPENAI_API_BASE_URL:
            raise errors.BadRequest(
                "Speech-to-text has no engine URL: set AUDIO_STT_OPENAI_API_BASE_URL"
            )
        allow_model(cfg.MODEL)  # the credential's allow-list
        engine = engines.transcriber(
            cfg.ENGINE,
            self._core.http,
            cfg.OPENAI_API_BASE_URL,
            cfg.OPENAI_API_KEY,
            cfg.MODEL,
            cfg.OPENAI_API_REQUEST_FORMAT,
        )
        with usage.start(TRANSCRIPTION, user_id, cfg.MODEL, f"stt {cfg.ENGINE}") as meter:
            result = await engine.transcribe(audio, filename, content_type, language)
            count_transcript(meter, result)
        return {**result, "filename": filename}

    # --- text to speech -------------------------------------------------------------------
    async def speech(self, request: SpeechRequest) -> Audio:
        cfg = (await self.config()).tts
        if not cfg.ENGINE:
            # Open WebUI answers 404 here too: with no engine the browser speaks by itself.
            raise errors.NotFound(
                "Text-to-speech is not configured: set AUDIO_TTS_ENGINE=openai and "
                "AUDIO_TTS_OPENAI_API_BASE_URL (or POST /api/v1/audio/config/update)"
            )
        if not cfg.OPENAI_API_BASE_URL:
            raise errors.BadRequest(
                "Text-to-speech has no engine URL: set AUDIO_TTS_OPENAI_API_BASE_URL"
            )
        body = request.model_dump(exclude_none=True)
        body["model"] = request.model or cfg.MODEL
        allow_model(body["model"])
        body["voice"] = request.voice or cfg.VOICE
        body.update(cfg.OPENAI_PARAMS or {})  # the admin's parameters win, as in Open WebUI
        engine = engines.synthesizer(
            cfg.ENGINE, self._core.http, cfg.OPENAI_API_BASE_URL, cfg.OPENAI_API_KEY or cfg.API_KEY
        )
        return await SpeechCache(self._settings.DATA_DIR).get_or_make(
            [cfg.ENGINE, cfg.OPENAI_API_BASE_URL], body, lambda: engine.synthesize(body)
        )

    # --- catalogues ---------------------------------------------------------------------
    async def _synthesizer(self) -> engines.Synthesizer | None:
        """The configured TTS engine, or None when there is none (its catalogues are empty)."""
        cfg = (await self.config()).tts
        make = engines.TTS_ENGINES.get(cfg.ENGINE)
        if make is None:
            return None
        return make(self._core.http, cfg.OPENAI_API_BASE_URL, cfg.OPENAI_API_KEY or cfg.API_KEY)

    async def models(self) -> dict[str, Any]:
        engine = await self._synthesizer()
        return {"models": [{"id": m} for m in engine.models()] if engine else []}

    async def voices(self) -> dict[str, Any]:
        engine = await self._synthesizer()
        return {"voices": [{"id": v, "name": v} for v in engine.voices()] if engine else []}
