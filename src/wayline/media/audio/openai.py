"""The OpenAI-compatible speech engine: `/audio/transcriptions` and `/audio/speech`."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import aiohttp

from wayline.core import errors
from wayline.core.http import UpstreamClient
from wayline.media.audio.base import Audio

MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
VOICES = ("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")


def _auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class OpenAITranscriber:
    def __init__(
        self,
        http: UpstreamClient,
        base_url: str,
        api_key: str,
        model: str,
        request_format: str = "multipart",
    ) -> None:
        self._http, self._url, self._key, self._model = http, base_url.rstrip("/"), api_key, model
        self._json = request_format == "json"

    async def transcribe(
        self, audio: bytes, filename: str, content_type: str, language: str | None
    ) -> dict[str, Any]:
        url, headers = f"{self._url}/audio/transcriptions", _auth(self._key)
        if self._json:
            # The JSON form some OpenAI-compatible servers take: the audio inline, in base64.
            ext = Path(filename).suffix.lower().lstrip(".") or "wav"
            body: dict[str, Any] = {
                "model": self._model,
                "input_audio": {
                    "data": base64.b64encode(audio).decode(),
                    "format": "ogg" if ext == "oga" else ext,
                },
            }
            if language:
                body["language"] = language
            resp = await self._http.request("POST", url, json=body, headers=headers)
        else:
            form = aiohttp.FormData()
            form.add_field("file", audio, filename=filename, content_type=content_type)
            form.add_field("model", self._model)
            if language:
                form.add_field("language", language)
            resp = await self._http.request("POST", url, data=form, headers=headers)
        resp.raise_for_status()
        try:
            data = resp.json()
        except ValueError as exc:
            raise errors.UpstreamError(502, "The transcription engine did not answer JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise errors.UpstreamError(502, "The transcription engine's answer has no `text`")
        return data


class OpenAISynthesizer:
    def __init__(
        self,
        http: UpstreamClient,
        base_url: str,
        api_key: str,
        *,
        auth: dict[str, str] | None = None,
    ) -> None:
        # `auth`: a provider connection's own Authorization (its key, or its URL's Basic
        # credentials).
        self._http, self._url = http, base_url.rstrip("/")
        self._auth = _auth(api_key) if auth is None else auth

    def models(self) -> list[str]:
        return list(MODELS)

    def voices(self) -> list[str]:
        return list(VOICES)

    async def synthesize(self, body: dict[str, Any]) -> Audio:
        resp = await self._http.request(
            "POST", f"{self._url}/audio/speech", json=body, headers=self._auth
        )
        resp.raise_for_status()
        content_type = resp.headers.get("Content-Type", "audio/mpeg").split(";")[0].strip()
        if not resp.body or content_type.startswith(("application/json", "text/")):
            raise errors.UpstreamError(502, "The speech engine did not answer with audio")
        return Audio(resp.body, content_type)
