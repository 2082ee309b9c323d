"""A profile picture as `GET /api/v1/users/{id}/profile/image` serves it (Open WebUI's rules): an
http(s) URL is a redirect, a `data:image/...;base64,` URL of an allowed type is decoded and
served, anything else is the default picture."""

from __future__ import annotations

import base64
import binascii
import functools
import struct
import zlib
from dataclasses import dataclass

ALLOWED_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
SIZE = 64


@dataclass(frozen=True)
class Picture:
    content: bytes
    media_type: str


@dataclass(frozen=True)
class Redirect:
    location: str


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@functools.cache
def default_picture() -> Picture:
    """A plain grey square PNG (Open WebUI ships a `user.png`; this one is drawn here)."""
    row = b"\x00" + bytes([0xC8, 0xC8, 0xC8]) * SIZE  # filter byte, then RGB pixels
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(row * SIZE))
        + _chunk(b"IEND", b"")
    )
    return Picture(png, "image/png")


def picture_for(url: str) -> Picture | Redirect:
    if url.startswith("http"):
        return Redirect(url)
    if url.startswith("data:image"):
        header, _, data = url.partition(",")
        media_type = header[len("data:") :].split(";")[0].lower()
        if media_type in ALLOWED_TYPES:
            try:
                return Picture(base64.b64decode(data, validate=True), media_type)
            except (binascii.Error, ValueError):
                pass
    return default_picture()
