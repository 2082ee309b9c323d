"""Plain text, markup, data and source files: decode with charset detection, keep the text as is.

Also the fallback for unknown extensions: bytes that sniff as text are extracted; anything
else (NUL bytes, undecodable, mostly control characters) is refused as binary.
"""

from __future__ import annotations

from charset_normalizer import from_bytes

from wayline.extraction.base import Unreadable, UnsupportedType
from wayline.extraction.chunking import Piece
from wayline.extraction.limits import ExtractionLimits

_CODE = (
    "py pyi pyw ipynb js mjs cjs jsx ts tsx java kt kts scala go rs c h cc cpp cxx hpp hh cs fs vb "
    "swift m mm rb php pl pm r jl lua dart ex exs erl hrl clj cljs hs ml mli elm nim zig v sol sh "
    "bash zsh fish ps1 bat cmd sql graphql gql proto thrift css scss sass less vue svelte astro tf "
    "hcl toml ini cfg conf env properties gradle cmake make mk dockerfile gitignore editorconfig "
    "lock log diff patch tex bib srt vtt"
)
TEXT_EXTENSIONS = frozenset(
    ("txt text md markdown mdx rst adoc org json jsonl ndjson yaml yml xml svg " + _CODE).split()
)
TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
        "application/javascript",
        "application/x-sh",
        "application/sql",
        "application/x-ndjson",
    }
)


def decode_text(data: bytes, *, strict: bool = True) -> str:
    """Decode bytes as text (BOM, UTF-8, then charset detection); raise if it is not text."""
    if not data.strip():
        raise Unreadable("The file is empty")
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if b"\x00" in data[:8192]:
        raise UnsupportedType("The file looks binary (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data[: 1 << 20]).best()
        if best is None:
            raise UnsupportedType("The file is not text in any known encoding") from None
        text = data.decode(best.encoding, errors="replace")
    if strict and not looks_like_text(text):
        raise UnsupportedType("The file looks binary (mostly control characters), not text")
    return text


def looks_like_text(text: str) -> bool:
    sample = text[:8192]
    if not sample:
        return False
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return bad / len(sample) < 0.05


class TextExtractor:
    extensions = TEXT_EXTENSIONS
    content_types = TEXT_TYPES
    # Decoding is linear in the input: a small file is extracted in the server, without a child
    # process (`isolation.INLINE_BYTES`).
    inline_safe = True

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        return [Piece(decode_text(data))]
