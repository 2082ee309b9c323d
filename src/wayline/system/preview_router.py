"""The admin's access previews (`system.preview`), at Open WebUI's paths under `/api/v1/users`
and `/api/v1/groups`. Served here, above every domain they read (models, collections, groups)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from wayline.auth.deps import AdminUser
from wayline.core.deps import CoreDep, SessionDep
from wayline.system.preview import AccessPreview

router = APIRouter(tags=["users"])


def _preview(session: SessionDep, core: CoreDep) -> AccessPreview:
    return AccessPreview(session, core.runtime_config)


Preview = Annotated[AccessPreview, Depends(_preview)]


@router.get("/api/v1/users/{user_id}/preview")
async def user_preview(user_id: str, _: AdminUser, preview: Preview) -> dict[str, Any]:
    return await preview.of_user(user_id)


@router.get("/api/v1/groups/id/{group_id}/preview", tags=["groups"])
async def group_preview(group_id: str, _: AdminUser, preview: Preview) -> dict[str, Any]:
    return await preview.of_group(group_id)
