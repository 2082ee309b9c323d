"""Image engines: the `ImageEngine` protocol (`base.py`), one module per engine, this registry.

Only the OpenAI-compatible engine (`openai`, Open WebUI's default) ships; others
(`automatic1111`, `comfyui`, `gemini`) would be one module, one line here and the name
in `ImageGenerationEngine` (`core/settings.py`), whose values are exactly this registry's
keys (a unit test checks).
"""

from __future__ import annotations

from collections.abc import Callable

from wayline.core import errors
from wayline.core.http import UpstreamClient
from wayline.core.settings import ImageGenerationEngine, choices, not_one_of
from wayline.media.images import openai
from wayline.media.images.base import Image, ImageEngine, sniff
from wayline.media.images.schemas import ImagesConfig

# engine name -> factory(http, config)
ENGINES: dict[str, Callable[[UpstreamClient, ImagesConfig], ImageEngine]] = {
    "openai": openai.OpenAIImages,
}


def check(engine: str, field: str = "IMAGE_GENERATION_ENGINE") -> None:
    """400 naming the field and the accepted values, unless `engine` is a known image engine."""
    if engine not in choices(ImageGenerationEngine):
        raise errors.BadRequest(not_one_of(field, engine, choices(ImageGenerationEngine)))


def engine_for(cfg: ImagesConfig, http: UpstreamClient) -> ImageEngine:
    check(cfg.IMAGE_GENERATION_ENGINE)
    return ENGINES[cfg.IMAGE_GENERATION_ENGINE](http, cfg)


__all__ = ["ENGINES", "Image", "ImageEngine", "check", "engine_for", "sniff"]
