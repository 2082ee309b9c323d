"""Image wire models: Open WebUI's flat config keys and its generation form."""

from __future__ import annotations

from typing import Annotated, Any

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
    # Image editing (`POST /api/v1/images/edit`); its OpenAI-compatible engine falls back to the
    # generation engine's URL and key when these are empty.
    ENABLE_IMAGE_EDIT: bool = False
    IMAGE_EDIT_ENGINE: str = "openai"
    IMAGE_EDIT_MODEL: str = ""
    IMAGE_EDIT_SIZE: str = ""
    IMAGES_EDIT_OPENAI_API_BASE_URL: str = ""
    IMAGES_EDIT_OPENAI_API_KEY: str = ""
    IMAGES_EDIT_OPENAI_API_VERSION: str = ""
    # Open WebUI's settings for engines Wayline does not ship (automatic1111, comfyui, gemini):
    # kept and shown, so a client can read and send back the whole configuration.
    AUTOMATIC1111_BASE_URL: str = ""
    AUTOMATIC1111_API_AUTH: dict[str, Any] | str | None = ""
    AUTOMATIC1111_PARAMS: dict[str, Any] | str | None = None
    COMFYUI_BASE_URL: str = ""
    COMFYUI_API_KEY: str = ""
    COMFYUI_WORKFLOW: str = ""
    COMFYUI_WORKFLOW_NODES: list[dict[str, Any]] = []
    IMAGES_GEMINI_API_BASE_URL: str = ""
    IMAGES_GEMINI_API_KEY: str = ""
    IMAGES_GEMINI_ENDPOINT_METHOD: str = ""
    IMAGES_EDIT_GEMINI_API_BASE_URL: str = ""
    IMAGES_EDIT_GEMINI_API_KEY: str = ""
    IMAGES_EDIT_COMFYUI_BASE_URL: str = ""
    IMAGES_EDIT_COMFYUI_API_KEY: str = ""
    IMAGES_EDIT_COMFYUI_WORKFLOW: str = ""
    IMAGES_EDIT_COMFYUI_WORKFLOW_NODES: list[dict[str, Any]] = []

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


ImageRef = Annotated[str, Field(min_length=1)]


class EditImageForm(BaseModel):
    """`image`: one image or several, each a data URL, an uploaded file's id, or its
    `/api/v1/files/{id}/content` URL."""

    model_config = ConfigDict(extra="ignore")

    image: ImageRef | Annotated[list[ImageRef], Field(min_length=1, max_length=16)]
    prompt: str = Field(min_length=1, max_length=32000)
    model: str | None = None
    size: str | None = None
    n: int | None = Field(default=None, ge=1, le=10)
    negative_prompt: str | None = None
    background: str | None = Field(default=None, max_length=32)

    def images(self) -> list[str]:
        return [self.image] if isinstance(self.image, str) else self.image


class VerifyForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    engine: str
    url: str = Field(min_length=1, max_length=2048)
    key: str | None = None


class ImageModel(BaseModel):
    id: str
    name: str


class GeneratedImage(BaseModel):
    id: str
    url: str
    name: str
    content_type: str
