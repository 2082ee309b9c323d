"""The admin's runtime configuration (`/api/v1/configs`): routers only."""

from wayline.configs.router import router

routers = [router]
