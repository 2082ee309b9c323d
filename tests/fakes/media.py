"""OpenAI-compatible image and audio routes for the fake upstream (registered on import).

- `POST /v1/images/generations` → `n` real PNGs (`png_for(prompt, i)`: a small solid
  image whose colour derives from the prompt), as `b64_json` or, when the request
  says `response_format: "url"`, as URLs served by the fake itself (`GET /v1/images/files/…`,
  recorded, so a test can see the headers the fetch carried).
- `POST /v1/images/edits` (multipart) → `n` PNGs derived from the prompt and the images sent
  (`png_for(prompt + "|" + sha256 of each image joined by "|", i)`).
- `GET /sdapi/v1/options`, `GET /object_info`: what `/api/v1/images/verify` probes
  (AUTOMATIC1111, ComfyUI).
- `POST /v1/audio/speech` → real WAV bytes (`wav_for(text)`): 8-bit mono PCM whose
  samples ARE the UTF-8 bytes of the input, so the transcription route below can
  "hear" it back — a genuine text → audio → text round trip.
- `POST /v1/audio/transcriptions` (multipart `file`, `model`, `language?`) → `{"text"}`:
  the decoded text of a WAV made by `wav_for`, else a note with the byte count.
  Recorded with `json` = the form fields, the file as `{filename, content_type, size}`.
  The JSON form (`input_audio: {data: base64, format}`) is understood too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import wave
import zlib
from typing import Any

from aiohttp import web

from tests.fakes.upstream import FakeUpstream, Recorded, _pre_failure, route_builder


def png_for(prompt: str, index: int = 0, size: int = 8) -> bytes:
    """A real `size`×`size` RGB PNG whose colour is derived from the prompt and index."""
    r, g, b = hashlib.sha256(f"{prompt}#{index}".encode()).digest()[:3]
    row = b"\x00" + bytes((r, g, b)) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def wav_for(text: str) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(text.encode())
    return buf.getvalue()


def text_of_wav(data: bytes) -> str | None:
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            return w.readframes(w.getnframes()).decode()
    except (wave.Error, EOFError, UnicodeDecodeError):
        return None


@route_builder
def media_routes(fake: FakeUpstream, app: web.Application) -> None:
    served: dict[str, bytes] = {}

    async def images(request: web.Request) -> web.Response:
        body = await fake.record(request)
        failure = fake.failure_for(request.path, body.get("model"))
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return web.json_response(
                {"error": {"message": "prompt is required", "type": "invalid_request_error"}},
                status=400,
            )
        data: list[dict[str, Any]] = []
        for i in range(int(body.get("n") or 1)):
            png = png_for(prompt, i)
            if body.get("response_format") == "url":
                name = hashlib.sha256(png).hexdigest()[:16] + ".png"
                served[name] = png
                data.append({"url": f"{fake.url}/v1/images/files/{name}", "revised_prompt": prompt})
            else:
                data.append({"b64_json": base64.b64encode(png).decode(), "revised_prompt": prompt})
        return web.json_response({"created": 1700000000, "data": data})

    async def image_file(request: web.Request) -> web.Response:
        await fake.record(request)  # so a test sees which credentials the fetch carried
        png = served.get(request.match_info["name"])
        if png is None:
            return web.json_response({"error": {"message": "no such image"}}, status=404)
        return web.Response(body=png, content_type="image/png")

    async def speech(request: web.Request) -> web.Response:
        body = await fake.record(request)
        failure = fake.failure_for(request.path, body.get("model"))
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        text = body.get("input")
        if not isinstance(text, str) or not text:
            return web.json_response(
                {"error": {"message": "input is required", "type": "invalid_request_error"}},
                status=400,
            )
        return web.Response(body=wav_for(text), content_type="audio/wav")

    async def transcriptions(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            # The JSON form: `{model, language?, input_audio: {data: base64, format}}`.
            body = await fake.record(request)
            failure = fake.failure_for(request.path, body.get("model"))
            if (early := await _pre_failure(fake, request, failure, True)) is not None:
                return early
            try:
                sent = base64.b64decode(body["input_audio"]["data"], validate=True)
            except (KeyError, TypeError, ValueError):
                return web.json_response(
                    {"error": {"message": "input_audio is required"}}, status=400
                )
            heard = text_of_wav(sent)
            return web.json_response(
                {"text": heard if heard is not None else f"(heard {len(sent)} bytes)"}
            )
        form = await request.post()
        fields: dict[str, Any] = {}
        audio = b""
        for key, value in form.items():
            if isinstance(value, web.FileField):
                audio = value.file.read()
                fields[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": len(audio),
                }
            else:
                fields[key] = value
        if fake.record_requests:
            fake.requests.append(
                Recorded(
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                    fields,
                    audio,
                )
            )
        failure = fake.failure_for(request.path, fields.get("model"))
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        if "file" not in fields:
            return web.json_response(
                {"error": {"message": "file is required", "type": "invalid_request_error"}},
                status=400,
            )
        text = text_of_wav(audio)
        return web.json_response(
            {"text": text if text is not None else f"(heard {len(audio)} bytes)"}
        )

    async def edits(request: web.Request) -> web.Response:
        """`POST /v1/images/edits` (multipart `image` or `image[]`): one PNG per `n`, derived
        from the prompt and the images sent. Recorded with `json` = the form fields, each image
        as `{filename, content_type, sha256}`."""
        form = await request.post()
        fields: dict[str, Any] = {}
        sent: list[dict[str, Any]] = []
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                sent.append(
                    {
                        "field": key,
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                )
            else:
                fields[key] = value
        fields["images"] = sent
        if fake.record_requests:
            fake.requests.append(
                Recorded(
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                    fields,
                    b"",
                )
            )
        failure = fake.failure_for(request.path, fields.get("model"))
        if (early := await _pre_failure(fake, request, failure, True)) is not None:
            return early
        if not sent or not fields.get("prompt"):
            return web.json_response(
                {"error": {"message": "image and prompt are required"}}, status=400
            )
        seed = fields["prompt"] + "|" + "|".join(i["sha256"] for i in sent)
        data = [
            {"b64_json": base64.b64encode(png_for(seed, i)).decode()}
            for i in range(int(fields.get("n") or 1))
        ]
        return web.json_response({"created": 1700000000, "data": data})

    async def sd_options(request: web.Request) -> web.Response:
        await fake.record(request)  # AUTOMATIC1111's options: what `/images/verify` reads
        return web.json_response({"sd_model_checkpoint": "v1-5-pruned"})

    async def object_info(request: web.Request) -> web.Response:
        await fake.record(request)  # ComfyUI's node list: what `/images/verify` reads
        return web.json_response({"CheckpointLoaderSimple": {"input": {"required": {}}}})

    app.router.add_post("/v1/images/edits", edits)
    app.router.add_get("/sdapi/v1/options", sd_options)
    app.router.add_get("/object_info", object_info)
    app.router.add_post("/v1/images/generations", images)
    app.router.add_get("/v1/images/files/{name}", image_file)
    app.router.add_post("/v1/audio/speech", speech)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
