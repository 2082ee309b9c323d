"""`/api/v1/audio`: transcriptions, speech, config (admin), models and voices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import CoreDep
from wayline.media.audio.schemas import (
    AudioConfig,
    RealtimeConfig,
    SpeechRequest,
    STTConfig,
    Transcription,
    TTSConfig,
)
from wayline.media.audio.service import MAX_AUDIO_BYTES, AudioService
from wayline.usage.scope import usage_scope

router = APIRouter(prefix="/api/v1/audio", tags=["audio"])


class AudioConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    realtime: RealtimeConfig | None = None
    tts: TTSConfig | None = None
    stt: STTConfig | None = None


@router.get("/config", response_model=AudioConfig)
async def get_config(core: CoreDep, user: AdminUser) -> AudioConfig:
    return await AudioService(core).config()


@router.post("/config/update", response_model=AudioConfig)
async def update_config(form: AudioConfigUpdate, core: CoreDep, user: AdminUser) -> AudioConfig:
    return await AudioService(core).update_config(form.tts, form.stt, form.realtime)


@router.post("/transcriptions", response_model=Transcription)
async def transcribe(
    request: Request,
    core: CoreDep,
    user: VerifiedUser,
    file: Annotated[UploadFile, File(description="The audio to transcribe")],
    language: Annotated[str | None, Form()] = None,
) -> dict:
    audio = await file.read(MAX_AUDIO_BYTES + 1)  # one byte over the limit is enough to refuse it
    return await AudioService(core).transcribe(
        audio,
        file.filename or "",
        file.content_type or "",
        language,
        user_id=user.id,
        usage=usage_scope(request),
    )


@router.post(
    "/speech",
    response_class=Response,
    responses={200: {"content": {"audio/mpeg": {}, "audio/wav": {}}}},
)
async def speech(body: SpeechRequest, core: CoreDep, user: VerifiedUser) -> Response:
    audio = await AudioService(core).speech(body)
    return Response(audio.data, media_type=audio.content_type)


@router.get("/models")
async def models(core: CoreDep, user: VerifiedUser) -> dict:
    return await AudioService(core).models()


@router.get("/voices")
async def voices(core: CoreDep, user: VerifiedUser) -> dict:
    return await AudioService(core).voices()
