"""Image generation: the configured engine draws, the caller owns the result as files.

Images are stored through the files domain (`create_file`, no text processing), so
they are read back at `/api/v1/files/{id}/content` under the files' own access rule
(owner or admin; anyone else gets 404).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.auth.limits.gate import allow_model
from wayline.core import errors
from wayline.core.settings import IMAGE_SIZE_PATTERN
from wayline.core.state import Core
from wayline.core.usage import IMAGE
from wayline.files.service import FilesRuntime, create_file
from wayline.media.images import engines
from wayline.media.images.base import Image
from wayline.media.images.schemas import (
    EditImageForm,
    GeneratedImage,
    GenerateImageForm,
    ImagesConfig,
    VerifyForm,
)
from wayline.media.images.sources import load_image
from wayline.usage.estimate import input_tokens
from wayline.usage.scope import UNMETERED, UsageScope
from wayline.users.schemas import UserInfo

SECTION = "images"
INVALID_URL = "The URL you provided is invalid. Please double-check and try again."
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
        engines.check(new.IMAGE_EDIT_ENGINE, "IMAGE_EDIT_ENGINE")
        if new.IMAGE_SIZE:
            _check_size(new.IMAGE_SIZE, "IMAGE_SIZE")
        if new.IMAGE_EDIT_SIZE:
            _check_size(new.IMAGE_EDIT_SIZE, "IMAGE_EDIT_SIZE")
        new.IMAGES_OPENAI_API_BASE_URL = new.IMAGES_OPENAI_API_BASE_URL.rstrip("/")
        new.IMAGES_EDIT_OPENAI_API_BASE_URL = new.IMAGES_EDIT_OPENAI_API_BASE_URL.rstrip("/")
        return await self._core.runtime_config.update(SECTION, new)

    async def verify(self, form: VerifyForm) -> bool:
        """Open WebUI's connection check for its local engines: the URL answers their API."""
        url = form.url.rstrip("/")
        headers: dict[str, str] = {}
        if form.engine == "automatic1111":
            url = f"{url}/sdapi/v1/options"
            if form.key is not None:
                token = base64.b64encode(form.key.encode()).decode()
                headers["Authorization"] = f"Basic {token}"
        elif form.engine == "comfyui":
            url = f"{url}/object_info"
            if form.key:
                headers["Authorization"] = f"Bearer {form.key}"
        else:
            raise errors.BadRequest("Unsupported image engine")
        if not url.startswith(("http://", "https://")):
            raise errors.BadRequest(INVALID_URL)
        try:
            (await self._core.http.request("GET", url, headers=headers)).raise_for_status()
        except errors.WaylineError:
            raise errors.BadRequest(INVALID_URL) from None
        return True

    async def models(self) -> list[dict[str, str]]:
        cfg = await self.config()
        if cfg.IMAGE_GENERATION_ENGINE not in engines.ENGINES:
            return []
        return engines.engine_for(cfg, self._core.http).models()

    async def generate(
        self,
        session: AsyncSession,
        files: FilesRuntime,
        user: UserInfo,
        form: GenerateImageForm,
        usage: UsageScope = UNMETERED,
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
        allow_model(model)  # the credential's allow-list
        engine = engines.engine_for(cfg, self._core.http)
        connection = f"images {cfg.IMAGE_GENERATION_ENGINE}"
        with usage.start(IMAGE, user.id, model, connection) as meter:
            images = await engine.generate(form.prompt, model, size, form.n, {})
            meter.count(input_tokens(form.prompt), 0, estimated=True)  # engines give no counts
        metadata = {"prompt": form.prompt, "model": model, "size": size}
        return await _store(session, files, user, images, metadata)

    async def edit(
        self,
        session: AsyncSession,
        files: FilesRuntime,
        user: UserInfo,
        form: EditImageForm,
        usage: UsageScope = UNMETERED,
    ) -> list[GeneratedImage]:
        cfg = await self.config()
        if not cfg.ENABLE_IMAGE_EDIT:
            raise errors.Forbidden(
                "Image editing is disabled: enable it with POST /api/v1/images/config/update "
                '{"ENABLE_IMAGE_EDIT": true}'
            )
        engines.check(cfg.IMAGE_EDIT_ENGINE, "IMAGE_EDIT_ENGINE")
        size = form.size or cfg.IMAGE_EDIT_SIZE or None
        if size:
            _check_size(size, "size")
        sources = [
            await load_image(session, files, user, ref, i)
            for i, ref in enumerate(form.images(), start=1)
        ]
        await session.rollback()  # reads done: no transaction held while the engine draws
        model = cfg.IMAGE_EDIT_MODEL if form.model is None else form.model
        allow_model(model or "dall-e-2")  # OpenAI's own default for edits
        extra = {"background": form.background} if form.background else {}
        engine = engines.ENGINES[cfg.IMAGE_EDIT_ENGINE](self._core.http, cfg)
        connection = f"images {cfg.IMAGE_EDIT_ENGINE}"
        with usage.start(IMAGE, user.id, model or "", connection) as meter:
            images = await engine.edit(form.prompt, model, sources, size, form.n, extra)
            meter.count(input_tokens(form.prompt), 0, estimated=True)
        metadata = {"prompt": form.prompt, "model": model, "size": size, "edit": True}
        return await _store(session, files, user, images, metadata)


async def _store(
    session: AsyncSession,
    files: FilesRuntime,
    user: UserInfo,
    images: list[Image],
    metadata: dict[str, Any],
) -> list[GeneratedImage]:
    """The images as the caller's files (stored, not processed for text)."""
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
            metadata=metadata,
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
