"""`/api/v1/configs`: the admin's runtime configuration (export, import, connections, model
defaults, banners, prompt suggestions). Admin-only, as Open WebUI, except the reads every
signed-in user's UI makes (banners, suggestions, the default model metadata)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.configs.schemas import (
    Banner,
    BannersConfig,
    ConnectionsConfig,
    ConnectionsConfigForm,
    ImportConfigForm,
    InterfaceConfig,
    ModelsConfig,
    ModelsConfigForm,
    SuggestionsConfig,
)
from wayline.configs.service import ConfigService
from wayline.core.deps import StateDep

router = APIRouter(prefix="/api/v1/configs", tags=["configs"])


def _service(state: StateDep) -> ConfigService:
    return ConfigService(state)


Service = Annotated[ConfigService, Depends(_service)]


@router.get("/export")
async def export_config(_: AdminUser, service: Service) -> dict[str, Any]:
    return await service.export()


@router.post("/import")
async def import_config(form: ImportConfigForm, _: AdminUser, service: Service) -> dict[str, Any]:
    return await service.import_(form.config)


@router.get("/namespace/{namespace}")
async def get_namespace(namespace: str, _: AdminUser, service: Service) -> dict[str, Any]:
    return await service.namespace(namespace)


@router.post("/interface/visibility", response_model=InterfaceConfig)
async def set_interface_visibility(
    form: InterfaceConfig, _: AdminUser, service: Service
) -> InterfaceConfig:
    return await service.set_interface(form)


@router.get("/connections", response_model=ConnectionsConfig)
async def get_connections(_: AdminUser, service: Service) -> ConnectionsConfig:
    return await service.connections()


@router.post("/connections", response_model=ConnectionsConfig)
async def set_connections(
    form: ConnectionsConfigForm, _: AdminUser, service: Service
) -> ConnectionsConfig:
    return await service.set_connections(form)


@router.get("/models/defaults")
async def get_model_defaults(_: VerifiedUser, service: Service) -> dict[str, Any]:
    return {"DEFAULT_MODEL_METADATA": (await service.models()).DEFAULT_MODEL_METADATA}


@router.get("/models", response_model=ModelsConfig)
async def get_models_config(_: AdminUser, service: Service) -> ModelsConfig:
    return await service.models()


@router.post("/models", response_model=ModelsConfig)
async def set_models_config(form: ModelsConfigForm, _: AdminUser, service: Service) -> ModelsConfig:
    return await service.set_models(form)


@router.get("/suggestions", response_model=SuggestionsConfig)
async def get_suggestions(_: VerifiedUser, service: Service) -> SuggestionsConfig:
    """Not in Open WebUI (its UI reads them from `/api/config`): the headless way to read them."""
    return await service.suggestions()


@router.post("/suggestions", response_model=SuggestionsConfig)
async def set_suggestions(
    form: SuggestionsConfig, _: AdminUser, service: Service
) -> SuggestionsConfig:
    return await service.set_suggestions(form)


@router.get("/banners", response_model=list[Banner])
async def get_banners(_: VerifiedUser, service: Service) -> list[Banner]:
    return (await service.banners()).banners


@router.post("/banners", response_model=list[Banner])
async def set_banners(form: BannersConfig, _: AdminUser, service: Service) -> list[Banner]:
    return (await service.set_banners(form)).banners
