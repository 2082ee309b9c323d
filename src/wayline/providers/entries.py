"""Model entries: what `/api/models` shows (`public`) plus how to reach the model (the rest).

Building the public objects from upstream listings is pure (Open WebUI's §3.2 shapes),
and done once per listing: `/api/models` serves the serialised snapshot, so every field
is computed here, never per request. Open WebUI's fields and their meaning here:
- `actions` / `filters`: the Action and Filter functions that apply to the model. Wayline
  stores such functions but does not run them, so no model advertises any: always `[]`.
- `connection_type` (and, as Open WebUI nests it, `openai.connection_type` /
  `ollama.connection_type`): the connection's `connection_type` (`external` / `local`).
- Ollama models: `loaded` (in the connection's `/api/ps` when listed) and
  `ollama.expires_at` (when Ollama will unload it, Unix seconds; only while loaded).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from wayline.providers.connections import Connection

LATEST = ":latest"


def alias_ids(model_id: str) -> tuple[str, ...]:
    """The ids that name the same model under Ollama's implicit tag: `x` and `x:latest`."""
    if model_id.endswith(LATEST):
        return (model_id, model_id[: -len(LATEST)])
    return (model_id,) if ":" in model_id else (model_id, model_id + LATEST)


# The provider that serves the model (`dialects.py`): "openai", "ollama", "pipe", ...


@dataclass
class ModelEntry:
    id: str
    kind: str
    public: dict[str, Any]
    connection: Connection | None = None
    upstream_id: str = ""
    function_id: str = ""
    # Preset/override data: stored params applied at chat time, ownership and grants.
    params: dict[str, Any] = field(default_factory=dict)
    base_id: str | None = None
    preset: bool = False
    owner_id: str | None = None
    has_row: bool = False
    # Who was granted read (or write): "user:<id>", "group:<id>" or "anyone".
    readers: frozenset[str] = frozenset()
    # Other connections of the same kind serving the model (Ollama: Open WebUI's `urls` list):
    # its deployments, with `connection`, among which the router chooses (routing.py).
    alternates: tuple[Connection, ...] = ()
    turns: Iterator[int] | None = None  # shared across rebuilds, so the rotation survives them

    def pick(self) -> Connection | None:
        if not self.alternates or self.turns is None:
            return self.connection
        pool = (self.connection, *self.alternates)
        return pool[next(self.turns) % len(pool)]

    def readable_by(
        self,
        user_id: str,
        is_admin: bool,
        bypass: bool,
        group_ids: frozenset[str] = frozenset(),
    ) -> bool:
        """Admins see all; base models are open unless BYPASS_MODEL_ACCESS_CONTROL is off;
        presets are private to their owner unless granted to the user, to one of their groups
        (`group_ids`: `UserInfo.group_ids`, inherited ones included) or to everyone (Open WebUI
        §3.3)."""
        if is_admin:
            return True
        if bypass and not self.preset:
            return True
        if not self.has_row:
            return False
        return (
            self.owner_id == user_id
            or "anyone" in self.readers
            or f"user:{user_id}" in self.readers
            or any(f"group:{g}" in self.readers for g in group_ids)
        )


def with_alternate(
    first: ModelEntry,
    other: ModelEntry,
    turns: Iterator[int],
    public: dict[str, Any] | None = None,
) -> ModelEntry:
    """`first` with `other`'s connection as one more deployment of the same model (a new
    object: the per-connection lists are reused across rebuilds and must not be mutated)."""
    assert other.connection is not None
    return ModelEntry(
        **{
            **first.__dict__,
            "public": first.public if public is None else public,
            "alternates": (*first.alternates, other.connection),
            "turns": turns,
        }
    )


def _tags(names: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"name": n} for n in names]


def openai_entry(conn: Connection, raw: dict[str, Any]) -> ModelEntry:
    upstream_id = str(raw.get("id"))
    model_id = conn.public_id(upstream_id)
    public = {
        "id": model_id,
        "name": raw.get("name") or model_id,
        "object": raw.get("object", "model"),
        "created": raw.get("created", 0),
        "owned_by": "openai",
        "openai": {**raw, "connection_type": conn.connection_type},
        "connection_type": conn.connection_type,
        "urlIdx": conn.index,
        "provider": "",
        "tags": _tags(conn.tags),
        "actions": [],
        "filters": [],
    }
    return ModelEntry(model_id, "openai", public, conn, upstream_id)


def ollama_entry(
    conn: Connection, tag: dict[str, Any], expires_at: int | None = None, loaded: bool = False
) -> ModelEntry:
    """`loaded` / `expires_at`: whether the connection's `/api/ps` lists the model, and until
    when."""
    upstream_id = str(tag.get("model") or tag.get("name"))
    model_id = conn.public_id(upstream_id)
    ollama = {**tag, "urls": [conn.index], "connection_type": conn.connection_type}
    if expires_at is not None:
        ollama["expires_at"] = expires_at
    public = {
        "id": model_id,
        "name": tag.get("name") or model_id,
        "object": "model",
        "created": 0,
        "owned_by": "ollama",
        "ollama": ollama,
        "connection_type": conn.connection_type,
        "tags": _tags(conn.tags),
        "actions": [],
        "filters": [],
        "loaded": loaded,
    }
    return ModelEntry(model_id, "ollama", public, conn, upstream_id)


def pipe_entry(model_id: str, name: str, function_id: str, created: int) -> ModelEntry:
    public = {
        "id": model_id,
        "name": name,
        "object": "model",
        "created": created,
        "owned_by": "openai",
        "pipe": {"type": "pipe"},
        "has_user_valves": False,
        "tags": [],
        "actions": [],
        "filters": [],
    }
    return ModelEntry(model_id, "pipe", public, function_id=function_id)


def info_of(row: Any, grants: list[dict[str, Any]]) -> dict[str, Any]:
    params = row.params or {}
    return {
        "id": row.id,
        "user_id": row.user_id,
        "base_model_id": row.base_model_id,
        "name": row.name,
        "params": params,
        "meta": row.meta or {},
        "access_grants": grants,
        "is_active": row.is_active,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def apply_rows(
    entries: dict[str, ModelEntry], rows: list[Any], grants: dict[str, list[dict[str, Any]]]
) -> dict[str, ModelEntry]:
    """Overlay workspace model rows: overrides (no base) rename/hide a base model, presets add
    one."""
    out = dict(entries)
    for row in rows:
        row_grants = grants.get(row.id, [])
        readers = frozenset(
            "anyone"
            if g["principal_type"] == "anyone" or g["principal_id"] == "*"
            else f"group:{g['principal_id']}"
            if g["principal_type"] == "group"
            else f"user:{g['principal_id']}"
            for g in row_grants
            if g["permission"] in ("read", "write")
        )
        meta_tags = [
            {"name": t["name"] if isinstance(t, dict) else str(t)}
            for t in (row.meta or {}).get("tags") or []
        ]
        common = {
            "params": row.params or {},
            "owner_id": row.user_id,
            "has_row": True,
            "readers": readers,
        }
        if row.base_model_id is None:
            base = out.get(row.id)
            if base is None:
                continue
            if not row.is_active:
                out.pop(row.id)
                continue
            public = {**base.public, "name": row.name, "info": info_of(row, row_grants)}
            public["tags"] = base.public.get("tags", []) + meta_tags
            out[row.id] = ModelEntry(**{**base.__dict__, "public": public, **common})
            continue
        # The base model itself, unless the row builds on a preset: another user's row that holds a
        # base model's id must not lend its prompt and parameters to this one.
        base = entries.get(row.base_model_id)
        if base is None and ":" not in row.base_model_id:  # `x` is Ollama's `x:latest`, as in chat
            base = entries.get(row.base_model_id + LATEST)
        stacked = out.get(row.base_model_id)
        if stacked is not None and (base is None or stacked.owner_id == row.user_id):
            base = stacked
        if not row.is_active or base is None:
            continue
        public = {
            "id": row.id,
            "name": row.name,
            "object": "model",
            "created": row.created_at,
            "owned_by": base.public.get("owned_by", "openai"),
            "preset": True,
            "info": info_of(row, row_grants),
            "tags": meta_tags,
            "actions": [],
            "filters": [],
        }
        for key in ("connection_type", "pipe", "provider", "loaded"):
            if key in base.public:
                public[key] = base.public[key]
        out[row.id] = ModelEntry(
            row.id,
            base.kind,
            public,
            base.connection,
            base.upstream_id,
            base.function_id,
            base_id=base.base_id if base.preset else base.id,
            preset=True,
            alternates=base.alternates,
            turns=base.turns,
            # A preset over a preset (or an override) inherits its params; its own win.
            **{**common, "params": {**(base.params if base.has_row else {}), **(row.params or {})}},
        )
    return out
