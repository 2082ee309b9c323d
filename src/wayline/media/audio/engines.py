"""Speech engines: one small protocol per direction, one module per engine, an explicit registry.

Only the OpenAI-compatible engine ships (`openai`, Open WebUI's name). Open WebUI's
default STT engine `''` is a local faster-whisper model; Wayline has none, so
`''` means "not configured" and the endpoints say which setting to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from wayline.core.http import UpstreamClient


@dataclass(frozen=True)
class Audio:
    data: bytes
    content_type: str


class Transcriber(Protocol):
    async def transcribe(
        self, audio: bytes, filename: str, content_type: str, language: str | None
    ) -> dict[str, Any]: ...


class Synthesizer(Protocol):
    async def synthesize(self, body: dict[str, Any]) -> Audio: ...


def transcriber(
    engine: str, http: UpstreamClient, base_url: str, api_key: str, model: str
) -> Transcriber:
    if engine == "openai":
        from wayline.media.audio.openai import OpenAITranscriber

        return OpenAITranscriber(http, base_url, api_key, model)
    raise KeyError(engine)


def synthesizer(engine: str, http: UpstreamClient, base_url: str, api_key: str) -> Synthesizer:
    if engine == "openai":
        from wayline.media.audio.openai import OpenAISynthesizer

        return OpenAISynthesizer(http, base_url, api_key)
    raise KeyError(engine)


STT_ENGINES = ("openai",)
TTS_ENGINES = ("openai",)
OPENAI_TTS_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
OPENAI_VOICES = ("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")
