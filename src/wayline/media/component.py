"""Images (`/api/v1/images`) and audio (`/api/v1/audio`)."""

from wayline.media.audio.router import router as audio_router

routers = [audio_router]
