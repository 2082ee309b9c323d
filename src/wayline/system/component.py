from wayline.system.preview_router import router as preview_router
from wayline.system.router import router

routers = [router, preview_router]
