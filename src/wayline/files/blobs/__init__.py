"""Blob stores for uploaded bytes, chosen by `STORAGE_PROVIDER` (Open WebUI's name): `local`
(a directory under `DATA_DIR`, one host) or `s3` (a bucket any replica can reach; the client
is imported only then, from the `s3` extra)."""

from __future__ import annotations

from wayline.core.settings import Settings
from wayline.files.blobs.base import (
    MAX_NAME_CHARS,
    Blob,
    BlobStore,
    ByteRange,
    RangeNotSatisfiable,
    StorageUnavailable,
    blob_key,
    parse_range,
    safe_name,
    too_large_detail,
)
from wayline.files.blobs.local import LocalBlobStore

__all__ = [
    "MAX_NAME_CHARS",
    "Blob",
    "BlobStore",
    "ByteRange",
    "LocalBlobStore",
    "RangeNotSatisfiable",
    "StorageUnavailable",
    "blob_key",
    "create_blob_store",
    "parse_range",
    "safe_name",
    "too_large_detail",
]


def create_blob_store(settings: Settings) -> BlobStore:
    if settings.STORAGE_PROVIDER == "s3":
        from wayline.files.blobs.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(settings.DATA_DIR / "uploads")
