"""OpenAI request bodies: `model` (and `stream`) typed, all else passed through untouched."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OpenAIBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    stream: bool | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ChatCompletionRequest(OpenAIBody):
    messages: list[dict[str, Any]]


class EmbeddingsRequest(OpenAIBody):
    input: str | list[str] | list[int] | list[list[int]]


class ProviderModelRequest(BaseModel):
    """A model to download, load or unload on a llama.cpp / LM Studio connection."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class OpenAIConfig(BaseModel):
    """Open WebUI's `/openai/config` shape."""

    model_config = ConfigDict(extra="ignore")

    ENABLE_OPENAI_API: bool = True
    OPENAI_API_BASE_URLS: list[str] = []
    OPENAI_API_KEYS: list[str] = []
    OPENAI_API_CONFIGS: dict[str, Any] = {}


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str = Field(pattern=r"^https?://")
    key: str = ""
