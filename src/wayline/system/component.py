from wayline.system.metrics_router import router as metrics_router
from wayline.system.preview_router import router as preview_router
from wayline.system.router import router

routers = [router, preview_router, metrics_router]
