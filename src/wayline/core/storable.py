"""Field types for workspace forms (models, knowledge, functions): only what can be read back is
stored. And `OpenModel`, the base of forms that take Open WebUI's bodies as they come.

The request body is parsed with the stdlib `json`, which accepts what cannot be written
again: lone surrogates (`"\\ud800"`), `NaN`/`Infinity`, integers beyond 64 bits. orjson
(which serves every list) refuses or rewrites those, and PostgreSQL's JSON type rejects
them, so a row holding one would answer 500 on every later read. Such a value is refused
with 422 naming the field before anything is written.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class OpenModel(BaseModel):
    """A wire model that accepts fields it does not declare (and keeps them): Open WebUI's
    clients send more than Wayline reads, and a form must not refuse them for it."""

    model_config = ConfigDict(extra="allow")


# Caps on stored text. Open WebUI has none (Text columns); these are far above real use and keep
# one row from holding megabytes. Ids stay within their String(255) columns.
ID_MAX = 255
NAME_MAX = 255
DESCRIPTION_MAX = 10_000
SYSTEM_PROMPT_MAX = 100_000


def _round_trips(value: Any) -> Any:
    try:
        same = orjson.loads(orjson.dumps(value)) == value
    except orjson.JSONEncodeError as exc:  # lone surrogates, integers beyond 64 bits
        raise ValueError(f"Value cannot be stored as JSON: {exc}") from exc
    if not same:  # NaN / Infinity become null in JSON
        raise ValueError("Value cannot be stored as JSON: NaN and Infinity are not JSON numbers")
    return value


def utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("Text must be valid Unicode (a lone surrogate cannot be stored)") from exc
    return value


def json_object(value: dict[str, Any]) -> dict[str, Any]:
    """Check an already-built object (e.g. valves after validation) the same way the forms do."""
    checked: dict[str, Any] = _round_trips(value)
    return checked


def capped(container: dict[str, Any], key: str, limit: int) -> None:
    """Cap one well-known string inside a JSON object (`params.system`, `meta.description`)."""
    value = container.get(key)
    if isinstance(value, str) and len(value) > limit:
        raise ValueError(f"'{key}' must be at most {limit} characters (got {len(value)})")


StorableObject = Annotated[dict[str, Any], AfterValidator(_round_trips)]
IdText = Annotated[str, Field(min_length=1, max_length=ID_MAX), AfterValidator(utf8)]
NameText = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(utf8)]
DescriptionText = Annotated[str, Field(max_length=DESCRIPTION_MAX), AfterValidator(utf8)]
