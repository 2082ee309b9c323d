"""Office Open XML: DOCX (paragraphs, headings as markdown, tables), XLSX (every sheet), PPTX
(every slide).

They are zip archives: each library reads a copy checked by `zipguard` (members inflated
by us, counted, capped by FILE_EXTRACTION_MAX_SIZE), never the uploaded archive itself.
"""

from __future__ import annotations

from wayline.extraction.chunking import Piece
from wayline.extraction.limits import ExtractionLimits
from wayline.extraction.zipguard import safe_archive


def _cells(values: list[object]) -> str:
    return " | ".join("" if v is None else str(v).strip() for v in values)


class DocxExtractor:
    extensions = frozenset({"docx"})
    content_types = frozenset(
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
    )

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        archive = safe_archive(data, "DOCX", limits)
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(archive)
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                text = block.text.strip()
                style = (block.style.name if block.style is not None else "") or ""
                if text and style.startswith("Heading"):
                    level = style.removeprefix("Heading").strip()
                    text = "#" * (int(level) if level.isdigit() else 1) + " " + text
                elif text and style == "Title":
                    text = "# " + text
                lines.append(text)
            elif isinstance(block, Table):
                lines.append("")
                for row in block.rows:
                    lines.append(_cells([cell.text for cell in row.cells]))
                lines.append("")
        return [Piece("\n".join(lines).strip())]


class XlsxExtractor:
    extensions = frozenset({"xlsx", "xlsm"})
    content_types = frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        archive = safe_archive(data, "XLSX", limits)
        import openpyxl

        book = openpyxl.load_workbook(archive, read_only=True, data_only=True)
        pieces = []
        try:
            for sheet in book.worksheets:
                rows = [
                    _cells(list(row))
                    for row in sheet.iter_rows(values_only=True)
                    if any(v is not None and str(v).strip() for v in row)
                ]
                if rows:
                    pieces.append(
                        Piece(f"Sheet: {sheet.title}\n" + "\n".join(rows), {"sheet": sheet.title})
                    )
        finally:
            book.close()
        return pieces


class PptxExtractor:
    extensions = frozenset({"pptx"})
    content_types = frozenset(
        {"application/vnd.openxmlformats-officedocument.presentationml.presentation"}
    )

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        archive = safe_archive(data, "PPTX", limits)
        from pptx import Presentation

        deck = Presentation(archive)
        pieces = []
        for number, slide in enumerate(deck.slides, start=1):
            lines: list[str] = []
            for shape in slide.shapes:
                if shape.has_text_frame:
                    lines.extend(p.text for p in shape.text_frame.paragraphs if p.text.strip())
                if getattr(shape, "has_table", False) and shape.has_table:
                    lines.extend(_cells([c.text for c in row.cells]) for row in shape.table.rows)
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = slide.notes_slide.notes_text_frame.text.strip()
                if notes:
                    lines.append(notes)
            if lines:
                pieces.append(Piece("\n".join(lines), {"slide": number}))
        return pieces
