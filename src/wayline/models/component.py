"""Workspace models (presets and base-model overrides): routers only."""

from wayline.models.router import router

routers = [router]
