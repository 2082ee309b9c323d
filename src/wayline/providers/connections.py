"""Where the upstreams are: `Connection`s built from Open WebUI's environment variables.

A connection knows its base URL, key and per-connection config (`enable`, `prefix_id`,
`model_ids`, `tags`, `connection_type`, `weight`); how to speak to it is the business of the
provider of its `kind` (`openai.py`, `ollama.py`; the table is `dialects.py`). `*_API_CONFIGS`
are keyed by connection index (`"0"`) as in Open WebUI; a key equal to the base URL is accepted
too.

A base URL carrying `user:password@` is stored without them (so `url`, `name` and every
message or log built from them are safe to show); the credentials become a Basic
`Authorization` header, unless the connection has an API key, which wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wayline.core.http import split_credentials


@dataclass(frozen=True)
class Connection:
    kind: str  # the provider that speaks to it (`dialects.py`)
    index: int
    url: str
    key: str = ""
    enabled: bool = True
    prefix_id: str = ""
    model_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    connection_type: str = "external"
    # Share of a model's traffic under `simple-shuffle` routing, against the other connections
    # serving it (0 = only when no other is healthy).
    weight: float = 1.0
    headers: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.index}] {self.url}"

    def public_id(self, upstream_id: str) -> str:
        return f"{self.prefix_id}.{upstream_id}" if self.prefix_id else upstream_id

    def upstream_id(self, public_id: str) -> str:
        if self.prefix_id and public_id.startswith(self.prefix_id + "."):
            return public_id[len(self.prefix_id) + 1 :]
        return public_id


def _config(configs: dict[str, Any], index: int, url: str) -> dict[str, Any]:
    value = configs.get(str(index), configs.get(url, {}))
    return value if isinstance(value, dict) else {}


def _tags(raw: Any) -> tuple[str, ...]:
    out = []
    for tag in raw or ():
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name:
            out.append(name)
    return tuple(out)


def _weight(raw: Any) -> float:
    """The config's `weight`: a number >= 0; anything else (absent, text, negative) is 1."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw >= 0:
        return 1.0
    return float(raw)


def _build(
    kind: str, index: int, url: str, key: str, cfg: dict[str, Any], default_type: str
) -> Connection:
    headers = {"Content-Type": "application/json"}
    key = cfg.get("key", key) or ""
    clean_url, basic = split_credentials(url)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    elif basic:
        headers["Authorization"] = basic
    return Connection(
        kind=kind,
        index=index,
        url=clean_url,
        key=key,
        enabled=bool(cfg.get("enable", True)),
        prefix_id=str(cfg.get("prefix_id") or ""),
        model_ids=tuple(str(m) for m in cfg.get("model_ids") or ()),
        tags=_tags(cfg.get("tags")),
        connection_type=str(cfg.get("connection_type") or default_type),
        weight=_weight(cfg.get("weight")),
        headers=headers,
    )


def configured(
    kind: str,
    urls: list[str],
    keys: list[str],
    configs: dict[str, Any],
    default_type: str,
) -> list[Connection]:
    """The enabled connections of one dialect from Open WebUI's lists: base URLs, their keys
    (paired by position; missing keys are empty) and `*_API_CONFIGS`."""
    conns = [
        _build(
            kind, i, url, keys[i] if i < len(keys) else "", _config(configs, i, url), default_type
        )
        for i, url in enumerate(urls)
    ]
    return [c for c in conns if c.enabled]
