"""Image generation: the configured engine draws, the caller owns the result as files.

Images are stored through the files domain (`create_file`, no text processing), so
they are read back at `/api/v1/files/{id}/content` under the files' own access rule
(owner or admin; anyone else gets 404).
"""

from __future__ import annotations

import io

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.settings import IMAGE_SIZE_PATTERN
from wayline.core.state import Core
from wayline.files.service import FilesRuntime, create_file
from wayline.media.images import engines
from wayline.media.images.schemas import GeneratedImage, GenerateImageForm, ImagesConfig
from wayline.users.schemas import UserInfo

SECTION = "images"
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def _check_size(size: str, setting: str) -> None:
    if not IMAGE_SIZE_PATTERN.match(size):
        raise errors.BadRequest(
            f"Invalid image size '{size}' ({setting}): use WIDTHxHEIGHT, e.g. 512x512"
        )


class ImageService:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def config(self) -> ImagesConfig:
        return await self._core.runtime_config.get(
            SECTION, ImagesConfig.from_settings(self._core.settings)
        )

    async def update_config(self, update: ImagesConfig) -> ImagesConfig:
        current = await self.config()
        new = current.model_copy(update=update.model_dump(include=update.model_fields_set))
        engines.check(new.IMAGE_GENERATION_ENGINE)
        if new.IMAGE_SIZE:
            _check_size(new.IMAGE_SIZE, "IMAGE_SIZE")
        new.IMAGES_OPENAI_API_BASE_URL = new.IMAGES_OPENAI_API_BASE_URL.rstrip("/")
        return await self._core.runtime_config.update(SECTION, new)

    async def models(self) -> list[dict[str, str]]:
        cfg = await self.config()
        if cfg.IMAGE_GENERATION_ENGINE not in engines.ENGINES:
            return []
        return engines.engine_for(cfg, self._core.http).models()

    async def generate(
        self, session: AsyncSession, files: FilesRuntime, user: UserInfo, form: GenerateImageForm
    ) -> list[GeneratedImage]:
        cfg = await self.config()
        if not cfg.ENABLE_IMAGE_GENERATION:
            raise errors.Forbidden(
                "Image generation is disabled: set ENABLE_IMAGE_GENERATION=true "
                "(or enable it with POST /api/v1/images/config/update)"
            )
        engines.check(cfg.IMAGE_GENERATION_ENGINE)
        if not cfg.IMAGES_OPENAI_API_BASE_URL:
            raise errors.BadRequest(
                "Image generation has no engine URL: set IMAGES_OPENAI_API_BASE_URL"
            )
        size = form.size or cfg.IMAGE_SIZE or "512x512"
        _check_size(size, "size")
        model = form.model or cfg.IMAGE_GENERATION_MODEL or "dall-e-2"
        engine = engines.engine_for(cfg, self._core.http)
        images = await engine.generate(form.prompt, model, size, form.n, {})
        out: list[GeneratedImage] = []
        for i, image in enumerate(images):
            ext = _EXTENSIONS[image.content_type]
            row = await create_file(
                session,
                files,
                user,
                f"generated-image-{i + 1}.{ext}",
                io.BytesIO(image.data),
                content_type=image.content_type,
                metadata={"prompt": form.prompt, "model": model, "size": size},
                process=False,
            )
            out.append(
                GeneratedImage(
                    id=row.id,
                    url=f"/api/v1/files/{row.id}/content",
                    name=row.filename,
                    content_type=image.content_type,
                )
            )
        return out
