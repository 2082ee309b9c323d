"""Where the upstreams are: `Connection`s built from Open WebUI's environment variables.

A connection knows its base URL, key and per-connection config (`enable`, `prefix_id`,
`model_ids`, `tags`, `connection_type`); how to speak to it is the dialect's business
(`openai_compat.py`, `ollama.py`). `*_API_CONFIGS` are keyed by connection index
(`"0"`) as in Open WebUI; a key equal to the base URL is accepted too.

A base URL carrying `user:password@` is stored without them (so `url`, `name` and every
message or log built from them are safe to show); the credentials become a Basic
`Authorization` header, unless the connection has an API key, which wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wayline.core.http import split_credentials
from wayline.core.settings import Settings

Kind = Literal["openai", "ollama"]


@dataclass(frozen=True)
class Connection:
    kind: Kind
    index: int
    url: str
    key: str = ""
    enabled: bool = True
    prefix_id: str = ""
    model_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    connection_type: str = "external"
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


def _build(
    kind: Kind, index: int, url: str, key: str, cfg: dict[str, Any], default_type: str
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
        headers=headers,
    )


def build_connections(settings: Settings) -> list[Connection]:
    conns: list[Connection] = []
    if settings.ENABLE_OPENAI_API:
        configs = settings.openai_api_configs
        for i, (url, key) in enumerate(
            zip(settings.openai_base_urls, settings.openai_api_keys, strict=False)
        ):
            conns.append(_build("openai", i, url, key, _config(configs, i, url), "external"))
    if settings.ENABLE_OLLAMA_API:
        configs = settings.ollama_api_configs
        for i, url in enumerate(settings.ollama_base_urls):
            conns.append(_build("ollama", i, url, "", _config(configs, i, url), "local"))
    return [c for c in conns if c.enabled]
