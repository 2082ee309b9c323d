"""HTML via BeautifulSoup: visible text only (script, style, template, noscript removed)."""

from __future__ import annotations

import re

from wayline.extraction.chunking import Piece
from wayline.extraction.limits import ExtractionLimits

_BLANKS = re.compile(r"\n\s*\n+")


class HtmlExtractor:
    extensions = frozenset({"html", "htm", "xhtml"})
    content_types = frozenset({"text/html", "application/xhtml+xml"})

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(data, "html.parser")
        title = soup.title.get_text(strip=True) if soup.title else ""
        for tag in soup(["script", "style", "template", "noscript", "head"]):
            tag.decompose()
        text = soup.get_text("\n")
        lines = [line.strip() for line in text.splitlines()]
        body = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
        return [Piece(f"{title}\n\n{body}" if title and not body.startswith(title) else body)]
