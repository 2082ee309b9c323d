"""CSV/TSV: one block per row as `column: value` lines (like LangChain's CSVLoader), rows
separated by blank lines."""

from __future__ import annotations

import csv
import io

from wayline.extraction.chunking import Piece
from wayline.extraction.limits import ExtractionLimits
from wayline.extraction.text import decode_text


class CsvExtractor:
    extensions = frozenset({"csv", "tsv"})
    content_types = frozenset({"text/csv", "text/tab-separated-values"})

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        text = decode_text(data)
        delimiter = "\t" if filename.lower().endswith(".tsv") else ","
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if not rows:
            return []
        header, body = rows[0], rows[1:]
        if not body:
            return [Piece(delimiter.join(header))]
        blocks = []
        for row in body:
            pairs = [
                f"{(header[i] if i < len(header) else f'column {i + 1}').strip()}: {value.strip()}"
                for i, value in enumerate(row)
            ]
            if any(v.strip() for v in row):
                blocks.append("\n".join(pairs))
        return [Piece("\n\n".join(blocks))]
