"""Liveness, readiness, version and the public configuration."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from wayline import __version__
from wayline.auth.credentials import extract_token
from wayline.auth.deps import VerifiedUser, get_authenticator
from wayline.core.deps import CoreDep

router = APIRouter(tags=["system"])


@router.get("/health")
async def health() -> dict:
    return {"status": True}


@router.get("/ready")
async def ready(core: CoreDep) -> JSONResponse:
    if await core.db.ping():
        return JSONResponse({"status": True})
    return JSONResponse({"status": False, "detail": "database unreachable"}, status_code=503)


@router.get("/health/db")
async def health_db(core: CoreDep) -> JSONResponse:
    return await ready(core)


@router.get("/api/version")
async def version(core: CoreDep) -> dict:
    return {"version": __version__, "deployment_id": core.settings.REDIS_KEY_PREFIX}


@router.get("/api/version/updates")
async def version_updates(_: VerifiedUser) -> dict:
    """Open WebUI's answer with its update check off: Wayline never calls out to look."""
    return {"current": __version__, "latest": __version__}


@router.get("/api/config")
async def public_config(request: Request, core: CoreDep) -> dict:
    """Open WebUI's public subset; a valid credential adds nothing secret, only feature flags."""
    s = core.settings
    config: dict = {
        "status": True,
        "name": s.WEBUI_NAME,
        "version": __version__,
        "default_locale": "en-US",
        "features": {
            "auth": True,
            "enable_signup": s.ENABLE_SIGNUP,
            "enable_login_form": True,
            "enable_api_keys": s.ENABLE_API_KEYS,
            "enable_image_generation": s.ENABLE_IMAGE_GENERATION,
        },
    }
    if extract_token(request, s.CUSTOM_API_KEY_HEADER):
        try:
            await get_authenticator(request).authenticate(request)
        except Exception:
            return config
        config["features"]["enable_rag_hybrid_search"] = s.ENABLE_RAG_HYBRID_SEARCH
        config["file"] = {"max_size": s.RAG_FILE_MAX_SIZE}
    return config
