"""PDF via pypdf: one piece per page, with Open WebUI's `page` (0-based) and `page_label` metadata.

The page count is checked before any page is read: a PDF longer than PDF_MAX_PAGES is refused
instead of holding the ingestion worker for minutes (pypdf counts the real page tree, not the
document's own `/Count`)."""

from __future__ import annotations

import io

from wayline.extraction.base import Unreadable
from wayline.extraction.chunking import Piece
from wayline.extraction.limits import ExtractionLimits


class PdfExtractor:
    extensions = frozenset({"pdf"})
    content_types = frozenset({"application/pdf"})

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        from pypdf import PasswordType, PdfReader
        from pypdf.errors import PdfReadError

        if b"%PDF-" not in data[:1024]:
            raise Unreadable("The file is not a valid PDF (no PDF header)")
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                # An empty user password (owner-password-only PDFs) still opens; anything else
                # cannot.
                try:
                    opened = reader.decrypt("")
                except Exception:
                    opened = PasswordType.NOT_DECRYPTED
                if not opened:
                    raise Unreadable(
                        "The PDF is encrypted (password-protected); remove the password and "
                        "upload it again"
                    )
            total = len(reader.pages)
            if total > limits.pdf_max_pages:
                raise Unreadable(
                    f"The PDF has {total} pages; the limit is PDF_MAX_PAGES={limits.pdf_max_pages}"
                )
            pieces = []
            for i, page in enumerate(reader.pages):
                text = page.extract_text() or ""
                pieces.append(
                    Piece(text, {"page": i, "page_label": str(i + 1), "total_pages": total})
                )
        except PdfReadError as exc:
            raise Unreadable(f"The PDF is corrupt or unreadable: {exc}") from exc
        return pieces
