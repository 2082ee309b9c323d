"""The admin's runtime configuration as a whole (export, import) and the sections this domain
keeps itself (banners, prompt suggestions, model defaults, connection flags).

An import is checked completely before anything is written: every section named is merged over
its current value, validated by its model, then run through its own domain's update path
against a staged configuration; only when all of them pass are they written, in one
transaction. A bad section answers 4xx naming it and leaves every setting as it was.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from wayline.configs import sections
from wayline.configs.schemas import (
    BannersConfig,
    ConnectionsConfig,
    InterfaceConfig,
    ModelsConfig,
    SuggestionsConfig,
)
from wayline.configs.sections import Section
from wayline.core import errors
from wayline.core.runtime_config import StagedConfig
from wayline.core.state import AppState

EXPORT_VERSION = 1
VERSION_KEY = "version"


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (itself or inside `X | None`), if any."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def merged(
    model: type[BaseModel], current: dict[str, Any], given: Any, path: str
) -> dict[str, Any]:
    """`given` laid over `current`: nested sections (audio's `tts`, `stt`) key by key, every
    other value replaced whole. An unknown key is refused by name."""
    if not isinstance(given, dict):
        raise errors.BadRequest(f"'{path}' must be a JSON object")
    unknown = sorted(set(given) - set(model.model_fields))
    if unknown:
        raise errors.BadRequest(
            f"Unknown setting '{path}.{unknown[0]}': {path} has {sorted(model.model_fields)}"
        )
    out = dict(current)
    for key, value in given.items():
        sub = _submodel(model.model_fields[key].annotation)
        if sub is not None and isinstance(current.get(key), dict):
            out[key] = merged(sub, current[key], value, f"{path}.{key}")
        else:
            out[key] = value
    return out


def _validated(section: Section, data: dict[str, Any]) -> BaseModel:
    try:
        return section.model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (section.name, *first["loc"]))
        raise errors.BadRequest(f"Invalid setting '{where}': {first['msg']}") from exc


class ConfigService:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.runtime = state.core.runtime_config

    # --- the whole configuration --------------------------------------------------------
    async def export(self) -> dict[str, Any]:
        out: dict[str, Any] = {VERSION_KEY: EXPORT_VERSION}
        for section in sections.SECTIONS:
            out[section.name] = (await section.load(self.state)).model_dump(mode="json")
        return out

    async def import_(self, config: dict[str, Any]) -> dict[str, Any]:
        version = config.get(VERSION_KEY, EXPORT_VERSION)
        if version != EXPORT_VERSION:
            raise errors.BadRequest(
                f"Unsupported configuration version {version!r}: this Wayline reads version "
                f"{EXPORT_VERSION} (what GET /api/v1/configs/export answers)"
            )
        given = {k: v for k, v in config.items() if k != VERSION_KEY}
        unknown = sorted(set(given) - set(sections.BY_NAME))
        if unknown:
            raise errors.BadRequest(
                f"Unknown configuration section '{unknown[0]}': the sections are "
                f"{sorted(sections.BY_NAME)}"
            )
        staged = StagedConfig(self.runtime)
        core = dataclasses.replace(self.state.core, runtime_config=staged)
        for name, data in given.items():
            section = sections.BY_NAME[name]
            current = (await section.load(self.state)).model_dump(mode="json")
            value = _validated(section, merged(section.model, current, data, name))
            try:
                await section.apply(self.state, core, value)
            except errors.WaylineError as exc:
                if isinstance(exc.detail, str):
                    exc.detail = f"Section '{name}': {exc.detail}"
                raise
        await staged.commit()
        return await self.export()

    async def namespace(self, name: str) -> dict[str, Any]:
        """One section with its keys dotted under its name (`openai.ENABLE_OPENAI_API`, ...),
        the flat shape of Open WebUI's `/configs/namespace/{namespace}`."""
        section = sections.BY_NAME.get(name)
        if section is None:
            raise errors.NotFound(
                f"Unknown configuration namespace '{name}': the namespaces are "
                f"{sorted(sections.BY_NAME)}"
            )
        value = (await section.load(self.state)).model_dump(mode="json")
        return {f"{name}.{key}": item for key, item in value.items()}

    # --- the sections kept here -----------------------------------------------------------
    async def banners(self) -> BannersConfig:
        return await self.runtime.get(sections.BANNERS.name, BannersConfig())

    async def set_banners(self, value: BannersConfig) -> BannersConfig:
        return await self.runtime.update(sections.BANNERS.name, value)

    async def suggestions(self) -> SuggestionsConfig:
        return await self.runtime.get(sections.SUGGESTIONS.name, SuggestionsConfig())

    async def set_suggestions(self, form: SuggestionsConfig) -> SuggestionsConfig:
        value = SuggestionsConfig(suggestions=form.suggestions, i18n=form.i18n or {})
        return await self.runtime.update(sections.SUGGESTIONS.name, value)

    async def models(self) -> ModelsConfig:
        return await self.runtime.get(sections.MODELS.name, ModelsConfig())

    async def set_models(self, form: ModelsConfig) -> ModelsConfig:
        value = ModelsConfig.model_validate(form.model_dump())
        return await self.runtime.update(sections.MODELS.name, value)

    async def connections(self) -> ConnectionsConfig:
        return await self.runtime.get(sections.CONNECTIONS.name, ConnectionsConfig())

    async def set_connections(self, form: ConnectionsConfig) -> ConnectionsConfig:
        current = await self.connections()
        value = current.model_copy(update=form.model_dump(exclude_unset=True))
        return await self.runtime.update(sections.CONNECTIONS.name, value)

    async def set_interface(self, form: InterfaceConfig) -> InterfaceConfig:
        return await self.runtime.update(sections.INTERFACE.name, form)
