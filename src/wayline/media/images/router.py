"""`/api/v1/images`: config (admin), models, generations."""

from __future__ import annotations

from fastapi import APIRouter, Request

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import CoreDep, SessionDep
from wayline.core.state import get_state
from wayline.files.service import FilesRuntime
from wayline.media.images.schemas import GeneratedImage, GenerateImageForm, ImageModel, ImagesConfig
from wayline.media.images.service import ImageService

router = APIRouter(prefix="/api/v1/images", tags=["images"])


@router.get("/config", response_model=ImagesConfig)
async def get_config(core: CoreDep, user: AdminUser) -> ImagesConfig:
    return await ImageService(core).config()


@router.post("/config/update", response_model=ImagesConfig)
async def update_config(form: ImagesConfig, core: CoreDep, user: AdminUser) -> ImagesConfig:
    return await ImageService(core).update_config(form)


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
        session, get_state(request).get(FilesRuntime), user, form
    )
