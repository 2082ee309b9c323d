"""`wayline config`: every setting with the value the server would use and where it came from
(the environment, `.env` in the working directory, or the default), secrets redacted. Invalid
values: one line each, exit 1."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wayline.cli.common import describe, note, print_table
from wayline.cli.database import sqlite_path

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from wayline.core.settings import Settings

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|TOKEN", re.IGNORECASE)
# Named like secrets, but they only name things: shown as they are.
_NOT_SECRET = frozenset({"CUSTOM_API_KEY_HEADER", "REDIS_KEY_PREFIX", "S3_KEY_PREFIX"})
# `scheme://user:password@host` (the password goes) and `scheme://token@host` (all of it goes).
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/@\s;,?#]+)@")
_SECRET_QUERY = re.compile(
    r"(?P<name>[?&][^=&;\s]*(?:key|secret|password|token)[^=&;\s]*=)[^&;\s]*", re.IGNORECASE
)


def register(sub: Any) -> None:
    cmd = sub.add_parser(
        "config",
        help="show every setting, its value and its source",
        description=(
            "Show every setting with the value `wayline serve` would use and its source "
            "(env, .env, default); secrets are redacted. Exits 1 if any value is invalid."
        ),
    )
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from pydantic import ValidationError

    from wayline.core.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        for line in describe(exc):
            note(line)
        sys.exit(1)
    dotenv = _dotenv()
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        rows.append((name, _shown(name, value), _source(name, field, dotenv)))
        if name == "WEBUI_SECRET_KEY" and not value:
            rows[-1] = (name, *_persisted_secret(settings))
    print_table(("setting", "value", "source"), rows)
    print()
    print(f"database: {_database(settings)}")


def _dotenv() -> dict[str, str | None]:
    from dotenv import dotenv_values

    from wayline.core.settings import Settings

    path = Settings.model_config.get("env_file")
    if not isinstance(path, str | Path) or not Path(path).is_file():
        return {}
    encoding = Settings.model_config.get("env_file_encoding")
    return dict(dotenv_values(path, encoding=encoding))


def _names(name: str, field: FieldInfo) -> list[str]:
    """The environment variables a field is read from, in the order pydantic tries them."""
    from pydantic import AliasChoices

    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [name]


def _source(name: str, field: FieldInfo, dotenv: dict[str, str | None]) -> str:
    for where, found in (("env", os.environ), (".env", dotenv)):
        for variable in _names(name, field):
            if found.get(variable) is not None:
                return where if variable == name else f"{where} ({variable})"
    return "default"


def _persisted_secret(settings: Settings) -> tuple[str, str]:
    path = settings.DATA_DIR / ".webui_secret_key"
    if path.is_file():
        return REDACTED, f"{path} (generated)"
    return "''", "default (a key is generated in DATA_DIR at first start)"


def _database(settings: Settings) -> str:
    path = sqlite_path(settings)
    if path is not None:
        return f"SQLite at {path}"
    return redact_url(settings.database_url)


def redact_url(text: str) -> str:
    """URLs in `text` without their credentials: a password, a bare token, secret query values."""

    def userinfo(match: re.Match[str]) -> str:
        user, colon, _ = match["info"].partition(":")
        return f"{match['scheme']}{user}:***@" if colon else f"{match['scheme']}***@"

    return _SECRET_QUERY.sub(r"\g<name>***", _USERINFO.sub(userinfo, text))


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if _SECRET_NAME.search(str(k)) and v else _redact_json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def _shown(name: str, value: Any) -> str:
    if isinstance(value, str):
        if value and _SECRET_NAME.search(name) and name not in _NOT_SECRET:
            return REDACTED
        if name.endswith("_CONFIGS"):
            try:
                return repr(json.dumps(_redact_json(json.loads(value)), separators=(",", ":")))
            except ValueError:
                return REDACTED
        return repr(redact_url(value))
    if isinstance(value, Path):
        return repr(str(value))
    return str(value)
