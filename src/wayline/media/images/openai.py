"""The OpenAI-compatible image engine: `POST {base}/images/generations` and, for edits,
`POST {base}/images/edits` (multipart; the edit settings' URL and key, else the generation's)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import aiohttp

from wayline.core import errors
from wayline.core.http import UpstreamClient, same_origin
from wayline.media.images.base import Image, sniff
from wayline.media.images.schemas import ImagesConfig

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_MODELS = [
    {"id": "dall-e-2", "name": "DALL·E 2"},
    {"id": "dall-e-3", "name": "DALL·E 3"},
    {"id": "gpt-image-1", "name": "GPT-IMAGE 1"},
    {"id": "gpt-image-1.5", "name": "GPT-IMAGE 1.5"},
]


class OpenAIImages:
    def __init__(self, http: UpstreamClient, cfg: ImagesConfig) -> None:
        self._http = http
        self._cfg = cfg

    def _headers(self, key: str | None = None) -> dict[str, str]:
        key = self._cfg.IMAGES_OPENAI_API_KEY if key is None else key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def models(self) -> list[dict[str, str]]:
        configured = self._cfg.IMAGE_GENERATION_MODEL
        extra = (
            [{"id": configured, "name": configured}]
            if configured and configured not in {m["id"] for m in _MODELS}
            else []
        )
        return _MODELS + extra

    async def generate(
        self, prompt: str, model: str, size: str, n: int, extra: dict[str, Any]
    ) -> list[Image]:
        body: dict[str, Any] = {"model": model, "prompt": prompt, "n": n, "size": size}
        # gpt-image models always answer base64 and refuse the parameter.
        if not model.startswith("gpt-image"):
            body["response_format"] = "b64_json"
        body.update(self._cfg.IMAGES_OPENAI_API_PARAMS or {})
        body.update(extra)
        params = (
            {"api-version": self._cfg.IMAGES_OPENAI_API_VERSION}
            if self._cfg.IMAGES_OPENAI_API_VERSION
            else None
        )
        resp = await self._http.request(
            "POST",
            f"{self._cfg.IMAGES_OPENAI_API_BASE_URL}/images/generations",
            json=body,
            headers=self._headers(),
            params=params,
        )
        resp.raise_for_status()
        base = self._cfg.IMAGES_OPENAI_API_BASE_URL
        return [await self._image(item, base, self._headers()) for item in _items(resp.json)]

    async def edit(
        self,
        prompt: str,
        model: str,
        images: Sequence[Image],
        size: str | None,
        n: int | None,
        extra: dict[str, Any],
    ) -> list[Image]:
        cfg = self._cfg
        base = cfg.IMAGES_EDIT_OPENAI_API_BASE_URL or cfg.IMAGES_OPENAI_API_BASE_URL
        if not base:
            raise errors.BadRequest(
                "Image editing has no engine URL: set IMAGES_EDIT_OPENAI_API_BASE_URL "
                "(or IMAGES_OPENAI_API_BASE_URL)"
            )
        headers = self._headers(cfg.IMAGES_EDIT_OPENAI_API_KEY or cfg.IMAGES_OPENAI_API_KEY)
        fields: dict[str, Any] = {"prompt": prompt, **extra}
        if model:
            fields["model"] = model
        if n:
            fields["n"] = n
        if size:
            fields["size"] = size
        if not model.startswith("gpt-image"):  # those always answer base64 and refuse the field
            fields["response_format"] = "b64_json"
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, str(value))
        field = "image" if len(images) == 1 else "image[]"
        for i, image in enumerate(images):
            ext = _EXTENSIONS[image.content_type]
            form.add_field(
                field, image.data, filename=f"image-{i + 1}.{ext}", content_type=image.content_type
            )
        version = cfg.IMAGES_EDIT_OPENAI_API_VERSION
        resp = await self._http.request(
            "POST",
            f"{base}/images/edits",
            data=form,
            headers=headers,
            params={"api-version": version} if version else None,
        )
        resp.raise_for_status()
        return [await self._image(item, base, headers) for item in _items(resp.json)]

    async def _image(self, item: Any, base: str, headers: dict[str, str]) -> Image:
        if not isinstance(item, dict):
            raise errors.UpstreamError(
                502, "The image engine answered an item that is not an object"
            )
        if isinstance(item.get("b64_json"), str):
            data = _b64(item["b64_json"])
        elif isinstance(item.get("url"), str) and item["url"].startswith("data:"):
            data = _b64(item["url"].split(",", 1)[-1])
        elif isinstance(item.get("url"), str) and item["url"].startswith(("http://", "https://")):
            # The key belongs to the engine: an image hosted elsewhere (a CDN, or any URL the
            # engine's answer names) is fetched without it.
            own = same_origin(item["url"], base)
            fetched = await self._http.request("GET", item["url"], headers=headers if own else {})
            data = fetched.raise_for_status().body
        else:
            raise errors.UpstreamError(
                502, "The image engine's answer has neither `b64_json` nor `url`"
            )
        content_type = sniff(data)
        if content_type is None:
            raise errors.UpstreamError(
                502, "The image engine returned data that is not a PNG, JPEG, GIF or WebP image"
            )
        return Image(data, content_type)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.UpstreamError(502, "The image engine returned invalid base64") from exc


def _items(answer: Any) -> list[Any]:
    """The `data` list of an engine's JSON answer (`answer` parses it), or 502."""
    try:
        items = answer()["data"]
        assert isinstance(items, list)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise errors.UpstreamError(502, "The image engine's answer has no `data` list") from exc
    return items
