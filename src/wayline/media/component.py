"""Images (`/api/v1/images`) and audio (`/api/v1/audio`)."""

from wayline.media.audio.router import router as audio_router
from wayline.media.images.router import router as images_router

routers = [images_router, audio_router]
