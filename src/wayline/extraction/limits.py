"""What one file may cost to extract: pages, decompressed bytes and wall time (`Settings`
names in messages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wayline.core.settings import Settings

MB = 1024 * 1024


@dataclass(frozen=True)
class ExtractionLimits:
    pdf_max_pages: int = 2000  # PDF_MAX_PAGES
    unzipped_max_bytes: int = 256 * MB  # FILE_EXTRACTION_MAX_SIZE, for docx/xlsx/pptx
    timeout: float = 300.0  # FILE_EXTRACTION_TIMEOUT, seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> ExtractionLimits:
        return cls(
            pdf_max_pages=settings.PDF_MAX_PAGES,
            unzipped_max_bytes=settings.FILE_EXTRACTION_MAX_SIZE * MB,
            timeout=settings.FILE_EXTRACTION_TIMEOUT,
        )


DEFAULT_LIMITS = ExtractionLimits()
