"""Audio wire models: Open WebUI's `{tts: {...}, stt: {...}}` config and the OpenAI speech body."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wayline.core.settings import Settings


class TTSConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ENGINE: str = ""
    MODEL: str = "tts-1"
    VOICE: str = "alloy"
    OPENAI_API_BASE_URL: str = ""
    OPENAI_API_KEY: str = ""
    API_KEY: str = ""
    SPLIT_ON: str = "punctuation"


class STTConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ENGINE: str = ""
    MODEL: str = "whisper-1"
    OPENAI_API_BASE_URL: str = ""
    OPENAI_API_KEY: str = ""
    SUPPORTED_CONTENT_TYPES: list[str] = []


class AudioConfig(BaseModel):
    """Stored as runtime-config section `audio`; every field optional on update (merged over
    the current one)."""

    model_config = ConfigDict(extra="ignore")

    tts: TTSConfig = TTSConfig()
    stt: STTConfig = STTConfig()

    @classmethod
    def from_settings(cls, s: Settings) -> AudioConfig:
        return cls(
            tts=TTSConfig(
                ENGINE=s.AUDIO_TTS_ENGINE,
                MODEL=s.AUDIO_TTS_MODEL,
                VOICE=s.AUDIO_TTS_VOICE,
                OPENAI_API_BASE_URL=s.AUDIO_TTS_OPENAI_API_BASE_URL.rstrip("/"),
                OPENAI_API_KEY=s.AUDIO_TTS_OPENAI_API_KEY,
            ),
            stt=STTConfig(
                ENGINE=s.AUDIO_STT_ENGINE,
                MODEL=s.AUDIO_STT_MODEL,
                OPENAI_API_BASE_URL=s.AUDIO_STT_OPENAI_API_BASE_URL.rstrip("/"),
                OPENAI_API_KEY=s.AUDIO_STT_OPENAI_API_KEY,
                SUPPORTED_CONTENT_TYPES=[
                    t.strip() for t in s.AUDIO_STT_SUPPORTED_CONTENT_TYPES.split(",") if t.strip()
                ],
            ),
        )


class SpeechRequest(BaseModel):
    """OpenAI's `POST /audio/speech` body; unknown fields are passed on to the engine untouched."""

    model_config = ConfigDict(extra="allow")

    input: str = Field(min_length=1, max_length=4096)
    model: str | None = None
    voice: str | None = None
    response_format: str | None = None
    speed: float | None = Field(default=None, ge=0.25, le=4.0)


class Transcription(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str
    filename: str
