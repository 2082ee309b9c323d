"""Open WebUI's chunking: markdown-header split first, then a recursive character split.

`recursive_split` reproduces LangChain's `RecursiveCharacterTextSplitter` (separators
`\\n\\n`, `\\n`, ` `, `""`; separators kept at the start of the following piece;
whitespace-stripped chunks; `add_start_index`), which is what Open WebUI uses with
`CHUNK_SIZE`/`CHUNK_OVERLAP` 1000/100 and what the Cranfield reference figures used.
The markdown pass splits at ATX headers (`#`..`######`, outside code fences), keeps the
header line in its section and records the heading trail; text with no headers goes
straight to the character split, so `start_index` always points into the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SEPARATORS = ("\n\n", "\n", " ", "")
_HEADER = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Piece:
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


def _split_keep(text: str, separator: str) -> list[str]:
    if not separator:
        return list(text)
    parts = re.split(f"({re.escape(separator)})", text)
    out = [parts[0]] + [parts[i] + parts[i + 1] for i in range(1, len(parts) - 1, 2)]
    if len(parts) % 2 == 0:
        out += parts[-1:]
    return [p for p in out if p]


def _merge(splits: list[str], size: int, overlap: int) -> list[str]:
    docs: list[str] = []
    current: list[str] = []
    total = 0
    for piece in splits:
        n = len(piece)
        if total + n > size and current:
            joined = "".join(current).strip()
            if joined:
                docs.append(joined)
            while total > overlap or (total + n > size and total > 0):
                total -= len(current[0])
                current = current[1:]
        current.append(piece)
        total += n
    joined = "".join(current).strip()
    if joined:
        docs.append(joined)
    return docs


def _split(text: str, separators: tuple[str, ...], size: int, overlap: int) -> list[str]:
    separator = separators[-1]
    rest: tuple[str, ...] = ()
    for i, sep in enumerate(separators):
        if sep == "":
            separator = sep
            break
        if sep in text:
            separator, rest = sep, separators[i + 1 :]
            break
    chunks: list[str] = []
    good: list[str] = []
    for piece in _split_keep(text, separator):
        if len(piece) < size:
            good.append(piece)
            continue
        if good:
            chunks.extend(_merge(good, size, overlap))
            good = []
        chunks.extend(_split(piece, rest, size, overlap) if rest else [piece])
    if good:
        chunks.extend(_merge(good, size, overlap))
    return chunks


def recursive_split(text: str, size: int = 1000, overlap: int = 100) -> list[tuple[str, int]]:
    """Chunks of at most `size` characters (where separators allow) with their start offsets."""
    if overlap >= size:
        raise ValueError(f"CHUNK_OVERLAP ({overlap}) must be smaller than CHUNK_SIZE ({size})")
    out: list[tuple[str, int]] = []
    index, previous = 0, 0
    for chunk in _split(text, SEPARATORS, size, overlap):
        index = text.find(chunk, max(0, index + previous - overlap))
        previous = len(chunk)
        out.append((chunk, index))
    return out


def markdown_sections(text: str) -> list[tuple[str, int, list[str]]]:
    """(section text, offset, heading trail); one section (the whole text) when there are no
    headers."""
    sections: list[tuple[int, list[str]]] = [(0, [])]
    trail: list[tuple[int, str]] = []
    offset, fenced = 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := _HEADER.match(line.rstrip("\r\n"))):
            level = len(m.group(1))
            trail = [t for t in trail if t[0] < level] + [(level, m.group(2).strip())]
            sections.append((offset, [t[1] for t in trail]))
        offset += len(line)
    bounds = [s[0] for s in sections[1:]] + [len(text)]
    return [
        (text[start:end], start, heads)
        for (start, heads), end in zip(sections, bounds, strict=True)
        if text[start:end].strip()
    ]


def split_pieces(
    pieces: list[Piece], size: int = 1000, overlap: int = 100, markdown: bool = True
) -> list[Piece]:
    """Split extracted pieces (e.g. PDF pages) into chunks carrying `start_index` (and
    `headings`)."""
    out: list[Piece] = []
    for piece in pieces:
        sections = markdown_sections(piece.text) if markdown else [(piece.text, 0, [])]
        for section, base, headings in sections:
            for chunk, start in recursive_split(section, size, overlap):
                meta = {**piece.meta, "start_index": base + start}
                if headings:
                    meta["headings"] = headings
                out.append(Piece(chunk, meta))
    return out
