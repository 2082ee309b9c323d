"""Image wire models: Open WebUI's flat config keys and its generation form."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wayline.core.settings import Settings


class ImagesConfig(BaseModel):
    """Runtime-config section `images` (the OpenAI-compatible engine's subset of Open WebUI's
    keys)."""

    model_config = ConfigDict(extra="ignore")

    ENABLE_IMAGE_GENERATION: bool = False
    ENABLE_IMAGE_PROMPT_GENERATION: bool = True
    IMAGE_GENERATION_ENGINE: str = "openai"
    IMAGE_GENERATION_MODEL: str = "dall-e-2"
    IMAGE_SIZE: str = "512x512"
    IMAGE_STEPS: int = Field(default=50, ge=0)
    IMAGES_OPENAI_API_BASE_URL: str = ""
    IMAGES_OPENAI_API_KEY: str = ""
    IMAGES_OPENAI_API_VERSION: str = ""
    IMAGES_OPENAI_API_PARAMS: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, s: Settings) -> ImagesConfig:
        return cls(
            ENABLE_IMAGE_GENERATION=s.ENABLE_IMAGE_GENERATION,
            IMAGE_GENERATION_ENGINE=s.IMAGE_GENERATION_ENGINE,
            IMAGE_GENERATION_MODEL=s.IMAGE_GENERATION_MODEL,
            IMAGE_SIZE=s.IMAGE_SIZE,
            IMAGES_OPENAI_API_BASE_URL=s.IMAGES_OPENAI_API_BASE_URL.rstrip("/"),
            IMAGES_OPENAI_API_KEY=s.IMAGES_OPENAI_API_KEY,
        )


class GenerateImageForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1, max_length=32000)
    model: str | None = None
    size: str | None = None
    n: int = Field(default=1, ge=1, le=10)
    steps: int | None = Field(default=None, ge=0)
    negative_prompt: str | None = None


class ImageModel(BaseModel):
    id: str
    name: str


class GeneratedImage(BaseModel):
    id: str
    url: str
    name: str
    content_type: str
