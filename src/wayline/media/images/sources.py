"""The images an edit starts from, as clients name them: a data URL, an uploaded file's id, or
that file's `/api/v1/files/{id}/content` URL (absolute or not).

A file is read under the files' own rule (its owner or an admin; anyone else gets 404, as for
`/content`). Other URLs are refused: fetching them would reach any host, and Open WebUI's
safeguards for that (private-address checks on every hop) are beyond an edit route.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlparse

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.files.service import FilesRuntime, get_readable_file
from wayline.media.images.base import Image, sniff
from wayline.users.schemas import UserInfo

MAX_IMAGE_BYTES = 25 * 1024 * 1024  # OpenAI's limit for an edit's image
_FILE_PATH = re.compile(r"^/api/v1/files/([^/]+)(?:/content(?:/.*)?)?$")
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


async def load_image(
    session: AsyncSession, files: FilesRuntime, user: UserInfo, ref: str, position: int
) -> Image:
    """The image `ref` names (`position` counts from 1, for the error messages)."""
    if ref.startswith("data:"):
        header, _, encoded = ref.partition(",")
        if ";base64" not in header:
            raise errors.BadRequest(f"Image {position}: a data URL must be base64-encoded")
        return _checked(_decode(encoded, position), position)
    if ref.startswith(("http://", "https://")):
        path = urlparse(ref).path
        if not _FILE_PATH.match(path):
            raise errors.BadRequest(
                f"Image {position}: only images uploaded here can be named by URL "
                "(/api/v1/files/{id}/content); send others as data URLs"
            )
        ref = path
    match = _FILE_PATH.match(ref)
    file_id = match.group(1) if match else ref
    if not _FILE_ID.match(file_id):
        raise errors.BadRequest(
            f"Image {position}: expected a data URL, a file id or /api/v1/files/{{id}}/content"
        )
    row = await get_readable_file(session, user, file_id)
    try:
        data = await files.blobs.read(row.path)
    except FileNotFoundError:
        raise errors.NotFound(f"Image {position}: file {file_id} has no stored bytes") from None
    return _checked(data, position)


def _decode(encoded: str, position: int) -> bytes:
    if len(encoded) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise errors.PayloadTooLarge(_too_large(position))
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest(f"Image {position}: invalid base64") from None


def _checked(data: bytes, position: int) -> Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise errors.PayloadTooLarge(_too_large(position))
    content_type = sniff(data)
    if content_type is None:
        raise errors.UnsupportedMediaType(f"Image {position} is not a PNG, JPEG, GIF or WebP image")
    return Image(data, content_type)


def _too_large(position: int) -> str:
    return f"Image {position} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
