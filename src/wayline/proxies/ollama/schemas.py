"""Ollama request bodies: the fields Wayline reads are typed, everything else passes through
untouched."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")

    def payload(self) -> dict[str, Any]:
        """What the client sent (no defaults added), ready to forward."""
        return self.model_dump(exclude_unset=True)


class _Named(_Body):
    """Bodies that name a model as `model` or (older clients) `name`."""

    model: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_name(self) -> _Named:
        if not (self.model or self.name):
            raise ValueError("'model' is required")
        return self

    @property
    def model_name(self) -> str:
        return self.model or self.name or ""


class ChatRequest(_Body):
    model: str = Field(min_length=1)
    messages: list[dict[str, Any]] = []
    stream: bool | None = None


class GenerateRequest(_Body):
    model: str = Field(min_length=1)
    prompt: str | None = None
    stream: bool | None = None


class EmbedRequest(_Body):
    model: str = Field(min_length=1)
    input: str | list[str]


class EmbeddingsRequest(_Body):
    model: str = Field(min_length=1)
    prompt: str


class ShowRequest(_Named):
    pass


class PullRequest(_Named):
    stream: bool | None = None


class PushRequest(_Named):
    stream: bool | None = None


class CreateRequest(_Named):
    stream: bool | None = None


class DeleteRequest(_Named):
    pass


class UnloadRequest(_Named):
    pass


class CopyRequest(_Body):
    source: str = Field(min_length=1)
    destination: str = Field(min_length=1)


class OpenAIBody(_Body):
    """`/ollama/v1/*`: an OpenAI-style body."""

    model: str = Field(min_length=1)
    stream: bool | None = None


class OllamaConfig(BaseModel):
    """Open WebUI's `/ollama/config` shape."""

    model_config = ConfigDict(extra="ignore")

    ENABLE_OLLAMA_API: bool = True
    OLLAMA_BASE_URLS: list[str] = []
    OLLAMA_API_CONFIGS: dict[str, Any] = {}


class UrlRequest(BaseModel):
    """`/models/download`: where the model file is."""

    model_config = ConfigDict(extra="ignore")

    url: str = Field(min_length=1)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str = Field(pattern=r"^https?://")
    key: str = ""
