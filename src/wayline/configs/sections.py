"""Every runtime-configuration section, as `GET /api/v1/configs/export` shows it and
`POST /api/v1/configs/import` applies it.

A section is written through its own domain's update path (the same checks and normalisation
as its own endpoint: `/openai/config/update`, `/api/v1/retrieval/config/update`, ...), run
against a `StagedConfig`, so an import writes nothing until every section has passed. A new
runtime section must be listed here (tests/api/test_configs.py checks that every `SECTION`
constant in the package is).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from wayline.configs.schemas import (
    BannersConfig,
    ConnectionsConfig,
    InterfaceConfig,
    ModelsConfig,
    SuggestionsConfig,
)
from wayline.core.state import AppState, Core
from wayline.media.audio import service as audio_service
from wayline.media.audio.schemas import AudioConfig
from wayline.media.audio.service import AudioService
from wayline.media.images import service as images_service
from wayline.media.images.schemas import ImagesConfig
from wayline.media.images.service import ImageService
from wayline.proxies.ollama import config as ollama_config
from wayline.proxies.ollama.schemas import OllamaConfig
from wayline.proxies.openai import config as openai_config
from wayline.proxies.openai.schemas import OpenAIConfig
from wayline.retrieval import config as rag_config
from wayline.retrieval.config import RagConfig
from wayline.retrieval.service import RetrievalService

Load = Callable[[AppState], Awaitable[BaseModel]]
# Runs the domain's own update for a validated value against `core` (whose runtime
# configuration is the staged one during an import).
Apply = Callable[[AppState, Core, Any], Awaitable[object]]


@dataclass(frozen=True)
class Section:
    name: str
    model: type[BaseModel]
    load: Load
    apply: Apply


def _own(name: str, model: type[BaseModel]) -> Section:
    """A section kept by the configs domain itself (no checks beyond its model)."""

    async def load(state: AppState) -> BaseModel:
        return await state.core.runtime_config.get(name, model())

    async def apply(state: AppState, core: Core, value: BaseModel) -> object:
        return await core.runtime_config.update(name, value)

    return Section(name, model, load, apply)


async def _load_rag(state: AppState) -> BaseModel:
    return await rag_config.current(state.core.runtime_config, state.core.settings)


async def _apply_rag(state: AppState, core: Core, value: RagConfig) -> object:
    live = state.get(RetrievalService)
    return await RetrievalService(core, live.embedder, live.search).update_config(
        value.model_dump()
    )


async def _load_images(state: AppState) -> BaseModel:
    return await ImageService(state.core).config()


async def _apply_images(state: AppState, core: Core, value: ImagesConfig) -> object:
    return await ImageService(core).update_config(value)


async def _load_audio(state: AppState) -> BaseModel:
    return await AudioService(state.core).config()


async def _apply_audio(state: AppState, core: Core, value: AudioConfig) -> object:
    return await AudioService(core).update_config(value.tts, value.stt)


async def _load_openai(state: AppState) -> BaseModel:
    return await openai_config.load(state.core)


async def _apply_openai(state: AppState, core: Core, value: OpenAIConfig) -> object:
    return await openai_config.update(core, value)


async def _load_ollama(state: AppState) -> BaseModel:
    return await ollama_config.load(state.core)


async def _apply_ollama(state: AppState, core: Core, value: OllamaConfig) -> object:
    return await ollama_config.update(core, value)


BANNERS = _own("banners", BannersConfig)
SUGGESTIONS = _own("suggestions", SuggestionsConfig)
MODELS = _own("models", ModelsConfig)
CONNECTIONS = _own("connections", ConnectionsConfig)
INTERFACE = _own("interface", InterfaceConfig)

SECTIONS: tuple[Section, ...] = (
    Section(openai_config.SECTION, OpenAIConfig, _load_openai, _apply_openai),
    Section(ollama_config.SECTION, OllamaConfig, _load_ollama, _apply_ollama),
    Section(rag_config.SECTION, RagConfig, _load_rag, _apply_rag),
    Section(images_service.SECTION, ImagesConfig, _load_images, _apply_images),
    Section(audio_service.SECTION, AudioConfig, _load_audio, _apply_audio),
    CONNECTIONS,
    MODELS,
    INTERFACE,
    BANNERS,
    SUGGESTIONS,
)
BY_NAME = {section.name: section for section in SECTIONS}
