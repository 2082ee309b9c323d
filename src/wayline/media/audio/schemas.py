"""Audio wire models: Open WebUI's `{realtime: {...}, tts: {...}, stt: {...}}` config and the
OpenAI speech body.

Every key of Open WebUI's configuration is kept and shown, so a client can read it and send it
back whole; the keys of engines Wayline does not ship (Azure, Mistral, Deepgram, local Whisper)
are stored only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wayline.core.settings import Settings

MISTRAL_URL = "https://api.mistral.ai/v1"
STT_EXTENSIONS = ["mp3", "wav", "m4a", "webm", "ogg", "flac", "mp4", "mpga", "mpeg"]


class TTSConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ENGINE: str = ""
    MODEL: str = "tts-1"
    VOICE: str = "alloy"
    OPENAI_API_BASE_URL: str = ""
    OPENAI_API_KEY: str = ""
    OPENAI_PARAMS: dict[str, Any] | None = None  # merged into every speech request
    API_KEY: str = ""
    SPLIT_ON: str = "punctuation"
    REALTIME_TTS_PROMPT_TEMPLATE: str | None = None
    AZURE_SPEECH_REGION: str = ""
    AZURE_SPEECH_BASE_URL: str = ""
    AZURE_SPEECH_OUTPUT_FORMAT: str = "audio-24khz-160kbitrate-mono-mp3"
    MISTRAL_API_KEY: str = ""
    MISTRAL_API_BASE_URL: str = MISTRAL_URL


class STTConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ENGINE: str = ""
    MODEL: str = "whisper-1"
    OPENAI_API_BASE_URL: str = ""
    OPENAI_API_KEY: str = ""
    # How the audio is sent: a multipart upload (OpenAI's form), or JSON with base64 audio.
    OPENAI_API_REQUEST_FORMAT: Literal["multipart", "json"] = "multipart"
    SUPPORTED_CONTENT_TYPES: list[str] = []
    ALLOWED_EXTENSIONS: list[str] = STT_EXTENSIONS  # [] allows any extension
    WHISPER_MODEL: str = "base"
    DEEPGRAM_API_KEY: str = ""
    AZURE_API_KEY: str = ""
    AZURE_REGION: str = ""
    AZURE_LOCALES: str = ""
    AZURE_BASE_URL: str = ""
    AZURE_MAX_SPEAKERS: str = ""
    MISTRAL_API_KEY: str = ""
    MISTRAL_API_BASE_URL: str = MISTRAL_URL
    MISTRAL_USE_CHAT_COMPLETIONS: bool = False


class RealtimeConfig(BaseModel):
    """Open WebUI's realtime voice calls (its `/api/v1/audio/realtime` websocket): Wayline does
    not serve them, so `ENABLED` stays false; the rest is stored as sent."""

    model_config = ConfigDict(extra="ignore")

    ENABLED: bool = False
    PROVIDER: Literal["openai", "azure"] = "openai"
    AUTH_TYPE: Literal["api_key", "microsoft_entra_id"] = "api_key"
    OPENAI_API_BASE_URL: str = "https://api.openai.com/v1"
    OPENAI_API_KEY: str = ""
    MODEL: str = Field("gpt-realtime-2.1-mini", min_length=1, max_length=200)
    VOICE: str = Field("marin", min_length=1, max_length=200)
    TRANSCRIPTION_MODEL: str = Field("gpt-transcribe", min_length=1, max_length=200)
    INPUT_PARAMS: dict[str, Any] | None = None
    REALTIME_CALL_PROMPT_TEMPLATE: str | None = None


class AudioConfig(BaseModel):
    """Stored as runtime-config section `audio`; every field optional on update (merged over
    the current one)."""

    model_config = ConfigDict(extra="ignore")

    realtime: RealtimeConfig = RealtimeConfig()
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
                ALLOWED_EXTENSIONS=[
                    e.strip().lower().lstrip(".")
                    for e in s.AUDIO_STT_ALLOWED_EXTENSIONS.split(",")
                    if e.strip()
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
