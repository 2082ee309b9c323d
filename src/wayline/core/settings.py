"""Deploy-time configuration: one validated `Settings`, read from the environment.

Variable names follow Open WebUI wherever Open WebUI has one, so an existing
deployment's environment carries over. Lists that Open WebUI separates with `;`
are kept as plain strings here and split by the `*_list` properties, because
pydantic-settings would otherwise try to parse them as JSON.
"""

from __future__ import annotations

import importlib.util
import json
import re
import secrets
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["admin", "user", "pending"]
LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
# The engines Wayline implements, under Open WebUI's names. The media engine registries
# (`wayline.media.*.engines`) must hold exactly these (a unit test checks), so a value that
# passes here always finds its engine. '' = off: Open WebUI's '' is a local Whisper model
# (STT) or the browser's own voice (TTS); Wayline has no local engine.
AudioSTTEngine = Literal["", "openai"]
AudioTTSEngine = Literal["", "openai"]
ImageGenerationEngine = Literal["openai"]
# `VECTOR_DB`: '' follows the database (sqlite-vec on SQLite, pgvector on PostgreSQL).
VectorDB = Literal["", "sqlite-vec", "sqlite", "sqlite_vec", "pgvector"]
_SQLITE_VECTOR_DBS = ("sqlite-vec", "sqlite", "sqlite_vec")

RoutingStrategy = Literal["simple-shuffle", "least-busy"]
StorageProvider = Literal["local", "s3"]
S3AddressingStyle = Literal["auto", "path", "virtual"]

# `IMAGE_SIZE` and the generation form's `size`: WIDTHxHEIGHT, or `auto`.
IMAGE_SIZE_PATTERN = re.compile(r"^(?:\d{1,5}x\d{1,5}|auto)$")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float | None:
    """Parse Open WebUI's `JWT_EXPIRES_IN` form (`30m`, `4w`, `-1`) into seconds; None = never."""
    text = text.strip()
    if text in ("-1", "", "0"):
        return None
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number with ms, s, m, h, d or w, or -1")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()]


def choices(literal: Any) -> tuple[Any, ...]:
    """The values a `Literal[...]` type accepts, in declaration order."""
    return get_args(literal)


def one_of(values: Iterable[Any]) -> str:
    """Accepted values as messages show them: `'', 'openai'`."""
    return ", ".join(repr(v) for v in values)


def not_one_of(name: str, value: Any, values: Iterable[Any]) -> str:
    """The one-line complaint about an enumerated setting, shared by the CLI and the config APIs."""
    return f"{name}={value!r} is not one of: {one_of(values)}"


# The embedding model that ships with Wayline (any of its names); other local models need torch.
BUNDLED_EMBEDDING_MODELS = frozenset(
    {"", "sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
)


def installed(module: str) -> bool:
    """Whether `module` can be imported (an optional extra's package is installed)."""
    return importlib.util.find_spec(module) is not None


class Settings(BaseSettings):
    # Precedence (pydantic-settings'): arguments, then environment variables, then `.env` in the
    # working directory (as Open WebUI reads it), then the defaults below.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    # --- server -------------------------------------------------------------
    ENV: Literal["dev", "prod", "test"] = "prod"
    HOST: str = "0.0.0.0"
    PORT: int = Field(default=8080, ge=0, le=65535)
    UVICORN_WORKERS: int = Field(default=1, ge=1)  # `wayline serve --workers` wins
    CORS_ALLOW_ORIGIN: str = "*"
    WEBUI_NAME: str = "Wayline"
    LOG_LEVEL: LogLevel = "INFO"  # any case: `info` is read as `INFO`
    LOG_FORMAT: Literal["text", "json"] = "text"
    # SIGTERM: stop accepting, let in-flight requests and streams finish for this long, then exit.
    GRACEFUL_SHUTDOWN_TIMEOUT: float = Field(default=30.0, ge=0)
    # The usage ledger (usage/ledger.py): records are written every USAGE_FLUSH_INTERVAL seconds,
    # or at once when 500 wait; past USAGE_QUEUE_SIZE waiting, a call goes unrecorded (counted,
    # logged) rather than slowed down. Shutdown writes whatever waits.
    USAGE_FLUSH_INTERVAL: float = Field(default=1.0, gt=0, le=3600)
    USAGE_QUEUE_SIZE: int = Field(default=50_000, ge=1)

    # --- storage ------------------------------------------------------------
    DATA_DIR: Path = Path("./data")
    DATABASE_URL: str = ""
    DATABASE_POOL_SIZE: int = 10
    DATABASE_POOL_MAX_OVERFLOW: int = 20
    REDIS_URL: str = ""
    REDIS_KEY_PREFIX: str = "wayline"
    # Uploaded bytes (files/blobs): `local` = DATA_DIR/uploads (one host), `s3` = a bucket every
    # replica reaches. The S3_* names and defaults are Open WebUI's ("" = the client's default:
    # AWS's endpoint for the region; credentials from the usual AWS sources).
    STORAGE_PROVIDER: StorageProvider = "local"
    S3_ENDPOINT_URL: str = ""
    S3_REGION_NAME: str = ""
    S3_BUCKET_NAME: str = ""
    S3_KEY_PREFIX: str = ""
    S3_ACCESS_KEY_ID: str = ""
    S3_SECRET_ACCESS_KEY: str = ""
    # Open WebUI leaves it unset (boto's `auto`: path style for a custom endpoint, virtual hosts
    # on AWS); `path` for most self-hosted servers (MinIO, Ceph, …), `virtual` to force hosts.
    S3_ADDRESSING_STYLE: S3AddressingStyle = "auto"

    # --- accounts and credentials ------------------------------------------
    WEBUI_SECRET_KEY: str = Field(
        default="", validation_alias=AliasChoices("WEBUI_SECRET_KEY", "WEBUI_JWT_SECRET_KEY")
    )
    JWT_EXPIRES_IN: str = "4w"
    ENABLE_SIGNUP: bool = True
    DEFAULT_USER_ROLE: Role = "pending"
    ENABLE_API_KEYS: bool = True
    CUSTOM_API_KEY_HEADER: str = "x-api-key"
    WEBUI_ADMIN_EMAIL: str = ""
    WEBUI_ADMIN_PASSWORD: str = ""
    WEBUI_ADMIN_NAME: str = "Admin"
    WEBUI_AUTH_COOKIE_SECURE: bool = False
    WEBUI_AUTH_COOKIE_SAME_SITE: Literal["lax", "strict", "none"] = "lax"
    AUTH_CACHE_TTL: float = 60.0
    # Sign-in attempts: per e-mail (Open WebUI's 15 per 3 minutes) and per client address.
    SIGNIN_RATE_LIMIT_PER_IP: int = 60
    SIGNIN_RATE_LIMIT_WINDOW: float = 180.0
    # uvicorn's name: proxies whose X-Forwarded-For is believed (comma-separated IPs, or *).
    FORWARDED_ALLOW_IPS: str = "127.0.0.1"

    # --- request limits -------------------------------------------------------
    MAX_REQUEST_BODY_SIZE: int = 1024 * 1024  # bytes of a JSON/form body (413 beyond)
    MAX_CHAT_BODY_SIZE: int = 20 * 1024 * 1024  # chat and embeddings bodies (images inline)
    MAX_JSON_DEPTH: int = 32  # nesting of any JSON body (422 beyond)

    # --- providers and chat -------------------------------------------------
    ENABLE_OLLAMA_API: bool = True
    OLLAMA_BASE_URL: str = ""
    OLLAMA_BASE_URLS: str = ""
    OLLAMA_API_CONFIGS: str = "{}"
    ENABLE_OPENAI_API: bool = True
    OPENAI_API_BASE_URL: str = ""
    OPENAI_API_BASE_URLS: str = ""
    OPENAI_API_KEY: str = ""
    OPENAI_API_KEYS: str = ""
    OPENAI_API_CONFIGS: str = "{}"
    ENABLE_OPENAI_API_PASSTHROUGH: bool = False
    BYPASS_MODEL_ACCESS_CONTROL: bool = True
    MODELS_CACHE_TTL: float = 1.0
    MODEL_LIST_TIMEOUT: float = 3.0
    AIOHTTP_CLIENT_TIMEOUT: float = 300.0
    UPSTREAM_CONNECT_TIMEOUT: float = 10.0
    # Routing a model over the connections that serve it (providers/routing.py): how a
    # deployment is chosen, how long a failing one is left out, retries before the first byte
    # (at most this many, none started after the deadline), and per-model fallback ids.
    MODEL_ROUTING_STRATEGY: RoutingStrategy = "simple-shuffle"
    UPSTREAM_COOLDOWN_SECONDS: float = Field(default=30.0, ge=0)  # 0 = no cooldowns
    UPSTREAM_MAX_RETRIES: int = Field(default=2, ge=0)
    UPSTREAM_RETRY_DEADLINE: float = Field(default=60.0, ge=0)
    MODEL_FALLBACKS: str = "{}"  # {"model id": ["fallback id", ...]}

    # --- files, ingestion, retrieval ---------------------------------------
    # "" = follow the database: sqlite-vec on SQLite, pgvector on PostgreSQL (any case)
    VECTOR_DB: VectorDB = ""
    # Searches run on an in-process copy of the index up to this many chunks (vectors/memory.py:
    # ~2.5 KB of memory per chunk); above it, or at 0, they run in the database.
    VECTOR_MEMORY_MAX_CHUNKS: int = Field(200_000, ge=0)
    RAG_EMBEDDING_ENGINE: Literal["", "local", "ollama", "openai"] = ""
    RAG_EMBEDDING_MODEL: str = "sentence-transformers/all-MiniLM-L6-v2"
    RAG_EMBEDDING_BATCH_SIZE: int = 32
    RAG_EMBEDDING_QUERY_PREFIX: str = ""
    RAG_EMBEDDING_CONTENT_PREFIX: str = ""
    RAG_OPENAI_API_BASE_URL: str = ""
    RAG_OPENAI_API_KEY: str = ""
    RAG_OLLAMA_BASE_URL: str = ""
    RAG_OLLAMA_API_KEY: str = ""
    EMBEDDING_THREADS: int = 0  # 0 = all cores
    CHUNK_SIZE: int = 1000
    CHUNK_OVERLAP: int = 100
    ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER: bool = True
    RAG_TOP_K: int = 3
    ENABLE_RAG_HYBRID_SEARCH: bool = True
    RAG_RELEVANCE_THRESHOLD: float = 0.0
    RAG_FULL_CONTEXT: bool = False
    RAG_SYSTEM_CONTEXT: bool = False
    RAG_TEMPLATE: str = ""  # "" = Open WebUI's default template
    RAG_FILE_MAX_SIZE: int | None = 100  # megabytes; unset/empty = unlimited
    RAG_ALLOWED_FILE_EXTENSIONS: str = ""
    KNOWLEDGE_ADD_WAIT_SECONDS: float = 120.0
    INGEST_WORKERS: int = Field(default=1, ge=0)  # 0: this replica leaves jobs to `wayline worker`
    PDF_MAX_PAGES: int = 2000  # pages extracted from one PDF (a longer one fails with the reason)
    FILE_EXTRACTION_TIMEOUT: float = 300.0  # seconds to extract one file's text
    FILE_EXTRACTION_MAX_SIZE: int = 256  # MB of bytes decompressed from one docx/xlsx/pptx
    RAG_EMBEDDING_RETRIES: int = 4  # attempts for a transient remote embedding error (backoff)
    ENABLE_KNOWLEDGE_FILE_RETENTION: bool = False

    # --- images and audio ---------------------------------------------------
    ENABLE_IMAGE_GENERATION: bool = False
    IMAGE_GENERATION_ENGINE: ImageGenerationEngine = "openai"
    IMAGES_OPENAI_API_BASE_URL: str = ""
    IMAGES_OPENAI_API_KEY: str = ""
    IMAGE_GENERATION_MODEL: str = "dall-e-2"
    IMAGE_SIZE: str = "512x512"
    AUDIO_STT_ENGINE: AudioSTTEngine = ""
    AUDIO_STT_MODEL: str = "whisper-1"
    AUDIO_STT_OPENAI_API_BASE_URL: str = ""
    AUDIO_STT_OPENAI_API_KEY: str = ""
    AUDIO_STT_SUPPORTED_CONTENT_TYPES: str = "audio/*,video/webm"
    AUDIO_STT_ALLOWED_EXTENSIONS: str = "mp3,wav,m4a,webm,ogg,flac,mp4,mpga,mpeg"
    AUDIO_TTS_ENGINE: AudioTTSEngine = ""
    AUDIO_TTS_MODEL: str = "tts-1"
    AUDIO_TTS_VOICE: str = "alloy"
    AUDIO_TTS_OPENAI_API_BASE_URL: str = ""
    AUDIO_TTS_OPENAI_API_KEY: str = ""

    @field_validator("RAG_FILE_MAX_SIZE", mode="before")
    @classmethod
    def _empty_is_unlimited(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("VECTOR_DB", "STORAGE_PROVIDER", "S3_ADDRESSING_STYLE", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("JWT_EXPIRES_IN")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("IMAGE_SIZE")
    @classmethod
    def _check_image_size(cls, value: str) -> str:
        if value and not IMAGE_SIZE_PATTERN.match(value):  # '' = 512x512
            raise ValueError("use WIDTHxHEIGHT (e.g. 512x512) or auto")
        return value

    @field_validator("OLLAMA_API_CONFIGS", "OPENAI_API_CONFIGS")
    @classmethod
    def _check_json_object(cls, value: str, info: ValidationInfo) -> str:
        _json_object(value, info.field_name or "")
        return value

    @field_validator("MODEL_FALLBACKS")
    @classmethod
    def _check_fallbacks(cls, value: str) -> str:
        model_fallbacks(value)
        return value

    @model_validator(mode="after")
    def _vector_db_fits_the_database(self) -> Settings:
        if self.VECTOR_DB in _SQLITE_VECTOR_DBS and not self.is_sqlite:
            raise ValueError(f"VECTOR_DB={self.VECTOR_DB!r} needs a SQLite DATABASE_URL")
        if self.VECTOR_DB == "pgvector" and not self.database_url.startswith("postgresql"):
            raise ValueError("VECTOR_DB='pgvector' needs a PostgreSQL DATABASE_URL")
        return self

    @model_validator(mode="after")
    def _storage_complete(self) -> Settings:
        if self.STORAGE_PROVIDER == "s3" and not self.S3_BUCKET_NAME.strip():
            raise ValueError("STORAGE_PROVIDER='s3' needs S3_BUCKET_NAME (the bucket for uploads)")
        if bool(self.S3_ACCESS_KEY_ID) != bool(self.S3_SECRET_ACCESS_KEY):
            raise ValueError("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together: set both")
        return self

    @model_validator(mode="after")
    def _extras_installed(self) -> Settings:
        """A setting whose code ships in an extra refuses to start without it, naming the extra."""
        for needed, module, extra, why in (
            (self.database_url.startswith("postgresql"), "asyncpg", "postgres", "DATABASE_URL"),
            (self.database_url.startswith("postgresql"), "pgvector", "postgres", "DATABASE_URL"),
            (bool(self.REDIS_URL), "redis", "redis", "REDIS_URL"),
            (self.STORAGE_PROVIDER == "s3", "obstore", "s3", "STORAGE_PROVIDER=s3"),
            (
                # Other BERT folders run on ONNX Runtime too (a non-BERT one with safetensors
                # weights is refused when first loaded, naming the same extra).
                (self.RAG_EMBEDDING_ENGINE in ("", "local"))
                and self.RAG_EMBEDDING_MODEL not in BUNDLED_EMBEDDING_MODELS
                and not (Path(self.RAG_EMBEDDING_MODEL) / "model.safetensors").is_file(),
                "sentence_transformers",
                "torch",
                f"RAG_EMBEDDING_MODEL={self.RAG_EMBEDDING_MODEL!r}",
            ),
        ):
            if needed and not installed(module):
                raise ValueError(f"{why} needs the '{extra}' extra: pip install 'wayline[{extra}]'")
        return self

    # --- derived values -------------------------------------------------------
    @property
    def docs_enabled(self) -> bool:
        return self.ENV == "dev"

    @property
    def jwt_expires_seconds(self) -> float | None:
        return parse_duration(self.JWT_EXPIRES_IN)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL; Open WebUI-style `postgresql://` URLs get asyncpg."""
        url = self.DATABASE_URL or f"sqlite:///{(self.DATA_DIR / 'wayline.db').resolve()}"
        for plain in (
            "postgresql://",
            "postgres://",
            "postgresql+psycopg2://",
            "postgresql+psycopg://",
        ):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cors_origins(self) -> list[str]:
        return split_list(self.CORS_ALLOW_ORIGIN)

    @property
    def ollama_base_urls(self) -> list[str]:
        urls = split_list(self.OLLAMA_BASE_URLS) or split_list(self.OLLAMA_BASE_URL)
        return [url.rstrip("/") for url in urls]

    @property
    def openai_base_urls(self) -> list[str]:
        urls = split_list(self.OPENAI_API_BASE_URLS) or split_list(self.OPENAI_API_BASE_URL)
        return [url.rstrip("/") for url in urls]

    @property
    def openai_api_keys(self) -> list[str]:
        # Index-aligned with the URLs; an empty entry means "no key".
        raw = self.OPENAI_API_KEYS or self.OPENAI_API_KEY
        keys = [k.strip() for k in raw.split(";")] if raw else []
        return (keys + [""] * len(self.openai_base_urls))[: len(self.openai_base_urls)]

    @property
    def ollama_api_configs(self) -> dict[str, Any]:
        return _json_object(self.OLLAMA_API_CONFIGS, "OLLAMA_API_CONFIGS")

    @property
    def openai_api_configs(self) -> dict[str, Any]:
        return _json_object(self.OPENAI_API_CONFIGS, "OPENAI_API_CONFIGS")

    @cached_property
    def model_fallbacks(self) -> dict[str, list[str]]:
        return model_fallbacks(self.MODEL_FALLBACKS)

    @property
    def allowed_file_extensions(self) -> list[str]:
        return [
            e.strip().lower().lstrip(".")
            for e in re.split(r"[;,]", self.RAG_ALLOWED_FILE_EXTENSIONS)
            if e.strip()
        ]

    @property
    def file_max_bytes(self) -> int | None:
        return None if self.RAG_FILE_MAX_SIZE is None else self.RAG_FILE_MAX_SIZE * 1024 * 1024

    @cached_property
    def secret_key(self) -> str:
        """`WEBUI_SECRET_KEY`, or one generated once and kept in `DATA_DIR` (restarts keep
        sessions)."""
        if self.WEBUI_SECRET_KEY:
            return self.WEBUI_SECRET_KEY
        path = self.DATA_DIR / ".webui_secret_key"
        if path.exists():
            return path.read_text().strip()
        self.DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        # Exclusive create: when several workers start together, one writes and the rest read.
        try:
            with open(path, "x") as fh:
                fh.write(key)
            path.chmod(0o600)
            return key
        except FileExistsError:
            return path.read_text().strip()


def _json_object(raw: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object keyed by connection index")
    return value


def model_fallbacks(raw: str) -> dict[str, list[str]]:
    """`MODEL_FALLBACKS`: each model id with the model ids to try, in order, once its own
    deployments have failed."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"MODEL_FALLBACKS is not valid JSON: {exc}") from exc
    if not isinstance(value, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) and i for i in ids)
        for ids in value.values()
    ):
        raise ValueError('MODEL_FALLBACKS must be a JSON object like {"model": ["other", ...]}')
    return value
