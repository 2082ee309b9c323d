"""Extraction: every format family to text, and clear refusals for what is not a readable
document."""

from __future__ import annotations

import pytest

from tests.fakes import documents
from wayline.extraction import Unreadable, UnsupportedType, extract


def texts(data: bytes, name: str, ctype: str | None = None) -> list[str]:
    return [p.text for p in extract(data, name, ctype)]


def test_pdf_pages_carry_page_numbers() -> None:
    pieces = extract(documents.pdf(["page one text", "page two text"]), "a.pdf")
    assert [(p.text, p.meta["page"], p.meta["page_label"]) for p in pieces] == [
        ("page one text", 0, "1"),
        ("page two text", 1, "2"),
    ]


def test_docx_heading_paragraph_and_table_in_order() -> None:
    [text] = texts(documents.docx("Heading", "Body text.", [["a", "b"], ["1", "2"]]), "d.docx")
    assert (
        text.index("# Heading")
        < text.index("Body text.")
        < text.index("a | b")
        < text.index("1 | 2")
    )


def test_xlsx_every_sheet_and_pptx_every_slide() -> None:
    sheets = extract(documents.xlsx({"One": [["x", 1]], "Two": [["y", None, 2.5]]}), "b.xlsx")
    assert [p.text for p in sheets] == ["Sheet: One\nx | 1", "Sheet: Two\ny |  | 2.5"]
    slides = extract(documents.pptx([("T1", "b1"), ("T2", "b2")]), "s.pptx")
    assert [(p.text, p.meta["slide"]) for p in slides] == [("T1\nb1", 1), ("T2\nb2", 2)]


def test_html_drops_script_and_style() -> None:
    [text] = texts(documents.HTML, "p.html")
    assert "The lift coefficient of a swept wing." in text and "Wing loading" in text
    assert "secret" not in text and "color" not in text


def test_text_encodings_are_detected() -> None:
    sample = "Überschallströmung und Düsen: Grenzschicht, Verdichtungsstöße, Wärmeübergang."
    assert texts(sample.encode("cp1252"), "de.txt") == [sample]
    assert texts(sample.encode("utf-16"), "de.txt") == [sample]
    assert texts(("\ufeff" + sample).encode("utf-8"), "de.md") == [sample]


def test_csv_tsv_json_and_code_by_extension_or_sniffing() -> None:
    assert texts(b"a\tb\n1\t2\n", "t.tsv") == ["a: 1\nb: 2"]
    assert texts(b'{"k": "v"}', "x.json") == ['{"k": "v"}']
    assert texts(b"SELECT 1;", "q.sql") == ["SELECT 1;"]
    assert texts(b"plain words", "noext", "application/octet-stream") == ["plain words"]
    assert texts(b"x = 1", "weird.unknownext") == ["x = 1"]


@pytest.mark.parametrize(
    ("data", "name", "error", "reason"),
    [
        (b"", "a.txt", Unreadable, "empty"),
        (b"   \n\n ", "a.txt", Unreadable, "empty"),
        (bytes(range(256)) * 8, "a.dat", UnsupportedType, "Unsupported file type"),
        (b"\x00\x01binary\x00", "a.txt", UnsupportedType, "binary"),
        (b"MZ\x90\x00", "a.pdf", Unreadable, "not a valid PDF"),
        (b"%PDF-1.4\ngarbage", "a.pdf", Unreadable, "PDF"),
        (documents.pdf([""]), "blank.pdf", Unreadable, "empty after extraction"),
        (b"not a zip", "a.xlsx", Unreadable, "not a valid XLSX"),
        (b"\x89PNG\r\n", "a.png", UnsupportedType, "not supported"),
    ],
)
def test_refusals(data: bytes, name: str, error: type[Exception], reason: str) -> None:
    ctype = "image/png" if name.endswith(".png") else None
    with pytest.raises(error, match=reason):
        extract(data, name, ctype)


def test_encrypted_pdf_is_refused_readably() -> None:
    with pytest.raises(Unreadable, match="encrypted"):
        extract(documents.encrypted_pdf(["secret"]), "e.pdf")


def test_zip_bomb_is_refused() -> None:
    bomb = documents.zip_bomb_docx(30)
    assert len(bomb) < 1024 * 1024
    for name in ("b.docx", "b.xlsx", "b.pptx"):
        with pytest.raises(Unreadable, match="zip bomb"):
            extract(bomb, name)
