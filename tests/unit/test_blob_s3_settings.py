"""How Open WebUI's S3_* settings become the S3 client's configuration (files/blobs/s3.py)."""

from __future__ import annotations

import pytest

from wayline.core.settings import Settings
from wayline.files.blobs import LocalBlobStore, create_blob_store
from wayline.files.blobs.s3 import S3BlobStore


def store_for(**values: str) -> S3BlobStore:
    store = create_blob_store(
        Settings(STORAGE_PROVIDER="s3", S3_BUCKET_NAME="bkt", WEBUI_SECRET_KEY="k", **values)  # type: ignore[arg-type]
    )
    assert isinstance(store, S3BlobStore)
    return store


@pytest.mark.parametrize(
    ("style", "endpoint", "sent_to", "virtual"),
    [
        ("auto", "http://127.0.0.1:9000", "http://127.0.0.1:9000", "false"),  # boto's auto
        ("auto", "", None, "true"),  # AWS itself: virtual hosts
        ("path", "https://s3.example.com/", "https://s3.example.com", "false"),
        ("virtual", "https://s3.example.com", "https://bkt.s3.example.com", "true"),
        ("VIRTUAL", "https://bkt.s3.example.com", "https://bkt.s3.example.com", "true"),
    ],
)
def test_addressing_style_and_endpoint(
    style: str, endpoint: str, sent_to: str | None, virtual: str
) -> None:
    store = store_for(S3_ADDRESSING_STYLE=style, S3_ENDPOINT_URL=endpoint).store
    assert store.config.get("endpoint") == sent_to
    assert store.config.get("virtual_hosted_style_request") == virtual
    assert store.client_options["allow_http"] == str(endpoint.startswith("http://")).lower()


def test_prefix_region_and_credentials() -> None:
    store = store_for(
        S3_KEY_PREFIX="/team/uploads/",
        S3_REGION_NAME="eu-west-3",
        S3_ACCESS_KEY_ID="id",
        S3_SECRET_ACCESS_KEY="secret",
    ).store
    assert store.prefix == "team/uploads"
    assert store.config["region"] == "eu-west-3"
    assert store.config["access_key_id"] == "id" and store.config["secret_access_key"] == "secret"
    assert store_for().store.prefix is None


def test_local_is_the_default(tmp_path: object) -> None:
    settings = Settings(DATA_DIR=tmp_path, WEBUI_SECRET_KEY="k")  # type: ignore[arg-type]
    store = create_blob_store(settings)
    assert (
        isinstance(store, LocalBlobStore)
        and store.root == (settings.DATA_DIR / "uploads").resolve()
    )
