"""The `Extractor` plug-in point: bytes of one file → text pieces (a PDF gives one piece per
page)."""

from __future__ import annotations

from typing import Protocol

from wayline.extraction.chunking import Piece
from wayline.extraction.limits import ExtractionLimits


class ExtractionError(Exception):
    """A file we cannot turn into text; `status` is what a synchronous upload answers."""

    status = 422

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnsupportedType(ExtractionError):
    status = 415


class Unreadable(ExtractionError):
    status = 422


class Extractor(Protocol):
    extensions: frozenset[str]  # lower-case, without the dot
    content_types: frozenset[str]

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]: ...
