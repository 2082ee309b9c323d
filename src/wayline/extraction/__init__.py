"""Text extraction: one module per format family behind the `Extractor` protocol, picked by
extension, then by content type, then by sniffing the bytes as text.

`extract` runs in the caller's process; ingestion uses `isolation.extract_isolated`, which
runs the same code in a child process under FILE_EXTRACTION_TIMEOUT."""

from __future__ import annotations

import os

from wayline.extraction.base import ExtractionError, Extractor, Unreadable, UnsupportedType
from wayline.extraction.chunking import Piece
from wayline.extraction.limits import DEFAULT_LIMITS, ExtractionLimits
from wayline.extraction.text import TextExtractor, decode_text

_REGISTRY: list[Extractor] = []


def register(extractor: Extractor) -> None:
    if not _REGISTRY:
        _builtin()
    _REGISTRY.insert(
        0, extractor
    )  # a plug-in registered later wins over the built-in for its extensions


def unregister(extractor: Extractor) -> None:
    if extractor in _REGISTRY:
        _REGISTRY.remove(extractor)


def _builtin() -> None:
    from wayline.extraction import html, office, pdf, tabular

    _REGISTRY.extend(
        [
            pdf.PdfExtractor(),
            office.DocxExtractor(),
            office.XlsxExtractor(),
            office.PptxExtractor(),
            html.HtmlExtractor(),
            tabular.CsvExtractor(),
            TextExtractor(),
        ]
    )


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


def extract(
    data: bytes,
    filename: str,
    content_type: str | None = None,
    limits: ExtractionLimits = DEFAULT_LIMITS,
) -> list[Piece]:
    """Text pieces of a file; raises `UnsupportedType` (415) or `Unreadable` (422) with a
    readable reason."""
    return extract_with(
        find_extractor(filename, content_type), data, filename, content_type, limits
    )


def extract_with(
    extractor: Extractor | None,
    data: bytes,
    filename: str,
    content_type: str | None,
    limits: ExtractionLimits,
) -> list[Piece]:
    """`extract` with the extractor already chosen (None: sniff the bytes as text)."""
    if not data:
        raise Unreadable("The file is empty")
    ctype = (content_type or "").split(";")[0].strip().lower()
    if extractor is None:
        if ctype.startswith(("image/", "audio/", "video/")):
            raise UnsupportedType(f"File type {ctype} is not supported for processing")
        try:
            pieces = [Piece(decode_text(data))]
        except UnsupportedType:
            raise UnsupportedType(
                f"Unsupported file type: '{os.path.basename(filename)}' is neither a known "
                "document format nor text"
            ) from None
    else:
        try:
            pieces = extractor.extract(data, filename, limits)
        except ExtractionError:
            raise
        except MemoryError:
            raise Unreadable(
                f"'{os.path.basename(filename)}' needs more memory to extract than is available"
            ) from None
        except Exception as exc:
            raise Unreadable(
                f"Could not read '{os.path.basename(filename)}': {type(exc).__name__}: {exc}"[:500]
            ) from exc
    pieces = [p for p in pieces if p.text.strip()]
    if not pieces:
        raise Unreadable("No text could be extracted from the file (it is empty after extraction)")
    return pieces


__all__ = [
    "ExtractionError",
    "ExtractionLimits",
    "Extractor",
    "Piece",
    "Unreadable",
    "UnsupportedType",
    "extract",
    "extract_with",
    "find_extractor",
    "register",
    "unregister",
]
