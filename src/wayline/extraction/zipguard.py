"""Office files are zip archives; this inflates them without trusting their headers.

A zip's headers say how big each member is, and `zipfile` believes them: it inflates a
member in one call of up to 2 GiB and only then cuts the result to the declared size. A
1 MB file whose headers claim 253 bytes can therefore take gigabytes of memory and still
read as a valid document. Here every member is inflated by us, in 64 KiB steps, counting
the bytes that actually come out; the total is capped, and a member whose real size or
CRC differs from its headers is refused. The libraries then read a rebuilt archive of
stored (uncompressed) members, which they cannot inflate beyond what was counted.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator

from wayline.extraction.base import Unreadable
from wayline.extraction.limits import MB, ExtractionLimits

STEP = 64 * 1024
MAX_MEMBERS = 10_000
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # signature … name length, extra length (30 bytes)


def unzip_limit(size: int, limits: ExtractionLimits) -> int:
    """Open WebUI's ratio rule (at least 10 MB, else 100 × the file) under
    FILE_EXTRACTION_MAX_SIZE."""
    return min(max(10 * MB, 100 * size), limits.unzipped_max_bytes)


def safe_archive(data: bytes, kind: str, limits: ExtractionLimits) -> io.BytesIO:
    """A copy of the archive with every member checked and stored uncompressed, for the
    format's library."""
    limit = unzip_limit(len(data), limits)
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise Unreadable(f"The file is not a valid {kind} (not a zip archive: {exc})") from exc
    members = source.infolist()
    if len(members) > MAX_MEMBERS:
        raise Unreadable(f"The {kind} holds {len(members)} archive members (limit {MAX_MEMBERS})")
    out = io.BytesIO()
    total = 0
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in members:
            with target.open(
                _stored(info), "w", force_zip64=limit >= zipfile.ZIP64_LIMIT
            ) as member:
                for block in _member_blocks(data, info, kind):
                    total += len(block)
                    if total > limit:
                        raise Unreadable(
                            f"The {kind} expands to more than {_mb(limit)} when uncompressed "
                            "(the limit is FILE_EXTRACTION_MAX_SIZE="
                            f"{_mb(limits.unzipped_max_bytes)}, or 100 times the file's size "
                            "when that is smaller); refusing a possible zip bomb"
                        )
                    member.write(block)
    out.seek(0)
    return out


def _stored(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    copy.compress_type = zipfile.ZIP_STORED
    copy.external_attr = info.external_attr
    return copy


def _member_blocks(data: bytes, info: zipfile.ZipInfo, kind: str) -> Iterator[bytes | memoryview]:
    """The member's real bytes, block by block; refuses it as soon as they disagree with its
    headers."""
    if info.flag_bits & 0x1:
        raise Unreadable(
            f"The {kind} is encrypted (password-protected); remove the password and upload it again"
        )
    mismatch = (
        f"The {kind} is corrupt: '{info.filename}' does not match its zip headers (size or CRC)"
    )
    raw = _raw_member(data, info, kind)
    if info.compress_type == zipfile.ZIP_STORED:
        # Stored members are sliced out of the input without a copy (views, not bytes).
        blocks: Iterator[bytes | memoryview] = (raw[i : i + STEP] for i in range(0, len(raw), STEP))
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        blocks = _inflate(raw, mismatch)
    else:
        raise Unreadable(
            f"The {kind} uses a zip compression method Office files do not use "
            f"({info.compress_type})"
        )
    size, crc = 0, 0
    for block in blocks:
        size += len(block)
        if size > info.file_size:
            raise Unreadable(
                f"The {kind} is corrupt or a zip bomb: '{info.filename}' holds more data than its "
                f"zip headers declare ({info.file_size} bytes)"
            )
        crc = zlib.crc32(block, crc)
        yield block
    if size != info.file_size or crc != info.CRC:
        raise Unreadable(mismatch)


def _raw_member(data: bytes, info: zipfile.ZipInfo, kind: str) -> memoryview:
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise Unreadable(f"The {kind} is corrupt (bad zip entry for '{info.filename}')")
    *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    begin = start + _LOCAL_HEADER.size + name_length + extra_length
    if begin + info.compress_size > len(data):
        raise Unreadable(
            f"The {kind} is truncated ('{info.filename}' runs past the end of the file)"
        )
    return memoryview(data)[begin : begin + info.compress_size]


def _inflate(raw: memoryview, corrupt: str) -> Iterator[bytes]:
    # `max_length` bounds each step's output, so memory stays at one step whatever the ratio.
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for start in range(0, len(raw), STEP):
            pending: bytes | memoryview = raw[start : start + STEP]
            while pending and not inflater.eof:
                yield inflater.decompress(pending, STEP)
                pending = inflater.unconsumed_tail
            if inflater.eof:
                break
        while not inflater.eof and (block := inflater.decompress(b"", STEP)):
            yield block
    except zlib.error as exc:
        raise Unreadable(f"{corrupt}: {exc}") from exc
    if not inflater.eof:
        raise Unreadable(corrupt)


def _mb(size: int) -> str:
    return f"{size / MB:g} MB"
