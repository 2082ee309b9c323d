"""Text extraction: one module per format family behind the `Extractor` protocol, picked by extension,
then by content type, then by sniffing the bytes as text."""

from __future__ import annotations

import os

from wayline.extraction.base import ExtractionError, Extractor, Unreadable, UnsupportedType
from wayline.extraction.chunking import Piece
from wayline.extraction.text import TextExtractor, decode_text

_REGISTRY: list[Extractor] = []


def register(extractor: Extractor) -> None:
    _REGISTRY.append(extractor)


def _builtin() -> None:
    from wayline.extraction import html, office, pdf, tabular

    for extractor in (pdf.PdfExtractor(), office.DocxExtractor(), office.XlsxExtractor(), office.PptxExtractor(),
                      html.HtmlExtractor(), tabular.CsvExtractor(), TextExtractor()):
        register(extractor)


def extension_of(filename: str) -> str:
    base = os.path.basename(filename).lower()
    return base.rsplit(".", 1)[-1] if "." in base else base


def find_extractor(filename: str, content_type: str | None) -> Extractor | None:
    if not _REGISTRY:
        _builtin()
    ext = extension_of(filename)
    for extractor in _REGISTRY:
        if ext in extractor.extensions:
            return extractor
    ctype = (content_type or "").split(";")[0].strip().lower()
    for extractor in _REGISTRY:
        if ctype and ctype in extractor.content_types:
            return extractor
    return None


def extract(data: bytes, filename: str, content_type: str | None = None) -> list[Piece]:
    """Text pieces of a file; raises `UnsupportedType` (415) or `Unreadable` (422) with a readable reason."""
    if not data:
        raise Unreadable("The file is empty")
    extractor = find_extractor(filename, content_type)
    ctype = (content_type or "").split(";")[0].strip().lower()
    if extractor is None:
        if ctype.startswith(("image/", "audio/", "video/")):
            raise UnsupportedType(f"File type {ctype} is not supported for processing")
        try:
            pieces = [Piece(decode_text(data))]
        except UnsupportedType:
            raise UnsupportedType(
                f"Unsupported file type: '{os.path.basename(filename)}' is neither a known document format nor text"
            ) from None
    else:
        try:
            pieces = extractor.extract(data, filename)
        except ExtractionError:
            raise
        except Exception as exc:  # noqa: BLE001 - a library choking on a corrupt file is the file's fault
            raise Unreadable(f"Could not read '{os.path.basename(filename)}': {type(exc).__name__}: {exc}"[:500]) from exc
    pieces = [p for p in pieces if p.text.strip()]
    if not pieces:
        raise Unreadable("No text could be extracted from the file (it is empty after extraction)")
    return pieces


__all__ = ["ExtractionError", "Extractor", "Piece", "Unreadable", "UnsupportedType", "extract", "find_extractor", "register"]
