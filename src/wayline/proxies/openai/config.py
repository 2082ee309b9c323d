"""`/openai/config`: the OpenAI connections an admin edits at run time (runtime-config section
`openai`).

Connection parsing stays the providers' (`OpenAIProvider.connections`): the stored lists are
turned back into the settings' own form and parsed there. Every worker applies a
change when the runtime-config bus message for the section arrives, and the stored
value is applied at start-up, so a restart keeps it.
"""

from __future__ import annotations

import orjson

from wayline.core import errors
from wayline.core.state import Core
from wayline.proxies.openai.schemas import OpenAIConfig
from wayline.proxies.upstreams import Upstreams

SECTION = "openai"


def default_config(core: Core) -> OpenAIConfig:
    s = core.settings
    return OpenAIConfig(
        ENABLE_OPENAI_API=s.ENABLE_OPENAI_API,
        OPENAI_API_BASE_URLS=s.openai_base_urls,
        OPENAI_API_KEYS=s.openai_api_keys,
        OPENAI_API_CONFIGS=s.openai_api_configs,
    )


async def load(core: Core) -> OpenAIConfig:
    return await core.runtime_config.get(SECTION, default_config(core))


def apply(core: Core, upstreams: Upstreams, cfg: OpenAIConfig) -> None:
    derived = core.settings.model_copy(
        update={
            "ENABLE_OPENAI_API": cfg.ENABLE_OPENAI_API,
            "OPENAI_API_BASE_URLS": ";".join(cfg.OPENAI_API_BASE_URLS),
            "OPENAI_API_BASE_URL": "",
            "OPENAI_API_KEYS": ";".join(cfg.OPENAI_API_KEYS),
            "OPENAI_API_KEY": "",
            "OPENAI_API_CONFIGS": orjson.dumps(cfg.OPENAI_API_CONFIGS).decode(),
            "ENABLE_OLLAMA_API": False,
        }
    )
    upstreams.replace("openai", upstreams.registry.providers.of("openai").connections(derived))


async def update(core: Core, cfg: OpenAIConfig) -> OpenAIConfig:
    urls = [u.strip().rstrip("/") for u in cfg.OPENAI_API_BASE_URLS]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise errors.BadRequest(
                f"Invalid OpenAI base URL '{url}' (OPENAI_API_BASE_URLS): use http:// or https://"
            )
        if ";" in url:
            raise errors.BadRequest(f"Invalid OpenAI base URL '{url}': it may not contain ';'")
    if any(";" in k for k in cfg.OPENAI_API_KEYS):
        raise errors.BadRequest("An OpenAI API key may not contain ';'")
    keys = (list(cfg.OPENAI_API_KEYS) + [""] * len(urls))[
        : len(urls)
    ]  # index-aligned, as Open WebUI
    value = cfg.model_copy(update={"OPENAI_API_BASE_URLS": urls, "OPENAI_API_KEYS": keys})
    # The bus message this publishes makes every worker (this one included) apply it.
    return await core.runtime_config.update(SECTION, value)
