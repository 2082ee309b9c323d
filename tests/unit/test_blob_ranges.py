"""HTTP byte ranges of stored files (files/blobs/base.py): parsed, then fitted to the blob."""

from __future__ import annotations

import pytest

from wayline.files.blobs import RangeNotSatisfiable, parse_range
from wayline.files.blobs.base import resolve_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, None)),
        ("bytes=-3", (None, 3)),
        (" bytes=1-1 ", (1, 1)),
        (None, None),
        ("", None),
        ("bytes=-", None),
        ("bytes=0-1,4-5", None),  # several ranges: answered whole
        ("items=0-1", None),
    ],
)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header) == expected


@pytest.mark.parametrize(
    ("byte_range", "size", "expected"),
    [
        (None, 10, (0, 9)),
        ((0, 9), 10, (0, 9)),
        ((2, 100), 10, (2, 9)),  # a last byte past the end is the end
        ((7, None), 10, (7, 9)),
        ((None, 3), 10, (7, 9)),
        ((None, 30), 10, (0, 9)),  # a suffix longer than the blob is all of it
        (None, 0, (0, -1)),  # an empty blob, whole: no bytes
    ],
)
def test_resolve_range(byte_range: object, size: int, expected: tuple[int, int]) -> None:
    assert resolve_range(byte_range, size) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("byte_range", [(10, None), (10, 12), (5, 4), (None, 0), (0, None)])
def test_unsatisfiable_ranges_are_416_with_the_size(byte_range: object) -> None:
    size = 0 if byte_range == (0, None) else 10
    with pytest.raises(RangeNotSatisfiable) as caught:
        resolve_range(byte_range, size)  # type: ignore[arg-type]
    assert caught.value.status_code == 416
    assert caught.value.headers == {"Content-Range": f"bytes */{size}"}
