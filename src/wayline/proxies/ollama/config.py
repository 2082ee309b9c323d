"""`/ollama/config`: the Ollama connections an admin edits at run time (runtime-config section
`ollama`).

Same mechanics as `proxies/openai/config.py`: parsed by the providers' own
`OllamaProvider.connections`, applied by every worker on the runtime-config bus message and
at start-up.
"""

from __future__ import annotations

import orjson

from wayline.core import errors
from wayline.core.state import Core
from wayline.proxies.ollama.schemas import OllamaConfig
from wayline.proxies.upstreams import Upstreams

SECTION = "ollama"


def default_config(core: Core) -> OllamaConfig:
    s = core.settings
    return OllamaConfig(
        ENABLE_OLLAMA_API=s.ENABLE_OLLAMA_API,
        OLLAMA_BASE_URLS=s.ollama_base_urls,
        OLLAMA_API_CONFIGS=s.ollama_api_configs,
    )


async def load(core: Core) -> OllamaConfig:
    return await core.runtime_config.get(SECTION, default_config(core))


def apply(core: Core, upstreams: Upstreams, cfg: OllamaConfig) -> None:
    derived = core.settings.model_copy(
        update={
            "ENABLE_OLLAMA_API": cfg.ENABLE_OLLAMA_API,
            "OLLAMA_BASE_URLS": ";".join(cfg.OLLAMA_BASE_URLS),
            "OLLAMA_BASE_URL": "",
            "OLLAMA_API_CONFIGS": orjson.dumps(cfg.OLLAMA_API_CONFIGS).decode(),
            "ENABLE_OPENAI_API": False,
        }
    )
    upstreams.replace("ollama", upstreams.registry.providers.of("ollama").connections(derived))


async def update(core: Core, cfg: OllamaConfig) -> OllamaConfig:
    urls = [u.strip().rstrip("/") for u in cfg.OLLAMA_BASE_URLS]
    for url in urls:
        if not url.startswith(("http://", "https://")) or ";" in url:
            raise errors.BadRequest(
                f"Invalid Ollama base URL '{url}' (OLLAMA_BASE_URLS): use http:// or https://, "
                "without ';'"
            )
    return await core.runtime_config.update(
        SECTION, cfg.model_copy(update={"OLLAMA_BASE_URLS": urls})
    )
