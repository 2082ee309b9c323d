"""What every image engine shares: the `Image` value, the `ImageEngine` protocol, `sniff`.

Engines (`openai.py`, ...) and their users import from here; the registry in `engines.py`
is the only module that knows every engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Image:
    data: bytes
    content_type: str


class ImageEngine(Protocol):
    def models(self) -> list[dict[str, str]]: ...

    async def generate(
        self, prompt: str, model: str, size: str, n: int, extra: dict[str, Any]
    ) -> list[Image]: ...

    async def edit(
        self,
        prompt: str,
        model: str,
        images: Sequence[Image],
        size: str | None,
        n: int | None,
        extra: dict[str, Any],
    ) -> list[Image]:
        """`images` changed as `prompt` says (`model` '' : the engine's default)."""
        ...


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
