"""Image engines: the `ImageEngine` protocol and its registry (one module per engine).

Only the OpenAI-compatible engine (`openai`, Open WebUI's default) ships; others
(`automatic1111`, `comfyui`, `gemini`) would be one module and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from wayline.core.http import UpstreamClient
from wayline.media.images.schemas import ImagesConfig


@dataclass(frozen=True)
class Image:
    data: bytes
    content_type: str


class ImageEngine(Protocol):
    def models(self) -> list[dict[str, str]]: ...

    async def generate(
        self, prompt: str, model: str, size: str, n: int, extra: dict[str, Any]
    ) -> list[Image]: ...


ENGINES = ("openai",)


def engine_for(cfg: ImagesConfig, http: UpstreamClient) -> ImageEngine:
    if cfg.IMAGE_GENERATION_ENGINE == "openai":
        from wayline.media.images.openai import OpenAIImages

        return OpenAIImages(http, cfg)
    raise KeyError(cfg.IMAGE_GENERATION_ENGINE)


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def sniff(data: bytes) -> str | None:
    """The image type by its first bytes (what the bytes are, not what a header claims)."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
