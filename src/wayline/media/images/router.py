"""`/api/v1/images`: config and engine check (admin), models, generations, edits."""

from __future__ import annotations

from fastapi import APIRouter, Request

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import CoreDep, SessionDep
from wayline.core.state import get_state
from wayline.files.service import FilesRuntime
from wayline.media.images.schemas import (
    EditImageForm,
    GeneratedImage,
    GenerateImageForm,
    ImageModel,
    ImagesConfig,
    VerifyForm,
)
from wayline.media.images.service import ImageService
from wayline.usage.scope import usage_scope

router = APIRouter(prefix="/api/v1/images", tags=["images"])


@router.get("/config", response_model=ImagesConfig)
async def get_config(core: CoreDep, user: AdminUser) -> ImagesConfig:
    return await ImageService(core).config()


@router.post("/config/update", response_model=ImagesConfig)
async def update_config(form: ImagesConfig, core: CoreDep, user: AdminUser) -> ImagesConfig:
    return await ImageService(core).update_config(form)


@router.post("/verify")
async def verify(form: VerifyForm, core: CoreDep, user: AdminUser) -> bool:
    return await ImageService(core).verify(form)


@router.get("/models", response_model=list[ImageModel])
async def models(core: CoreDep, user: VerifiedUser) -> list[dict[str, str]]:
    return await ImageService(core).models()


@router.post("/generations", response_model=list[GeneratedImage])
async def generations(
    form: GenerateImageForm,
    request: Request,
    core: CoreDep,
    session: SessionDep,
    user: VerifiedUser,
) -> list[GeneratedImage]:
    return await ImageService(core).generate(
        session, get_state(request).get(FilesRuntime), user, form, usage_scope(request)
    )


@router.post("/edit", response_model=list[GeneratedImage])
async def edit(
    form: EditImageForm,
    request: Request,
    core: CoreDep,
    session: SessionDep,
    user: VerifiedUser,
) -> list[GeneratedImage]:
    files = get_state(request).get(FilesRuntime)
    return await ImageService(core).edit(session, files, user, form, usage_scope(request))
