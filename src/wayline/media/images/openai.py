"""The OpenAI-compatible image engine: `POST {base}/images/generations`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from wayline.core import errors
from wayline.core.http import UpstreamClient, same_origin
from wayline.media.images.base import Image, sniff
from wayline.media.images.schemas import ImagesConfig

_MODELS = [
    {"id": "dall-e-2", "name": "DALL·E 2"},
    {"id": "dall-e-3", "name": "DALL·E 3"},
    {"id": "gpt-image-1", "name": "GPT-IMAGE 1"},
]


class OpenAIImages:
    def __init__(self, http: UpstreamClient, cfg: ImagesConfig) -> None:
        self._http = http
        self._cfg = cfg

    def _headers(self) -> dict[str, str]:
        key = self._cfg.IMAGES_OPENAI_API_KEY
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
        try:
            items = resp.json()["data"]
            assert isinstance(items, list)
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise errors.UpstreamError(502, "The image engine's answer has no `data` list") from exc
        return [await self._image(item) for item in items]

    async def _image(self, item: Any) -> Image:
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
            own = same_origin(item["url"], self._cfg.IMAGES_OPENAI_API_BASE_URL)
            fetched = await self._http.request(
                "GET", item["url"], headers=self._headers() if own else {}
            )
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
