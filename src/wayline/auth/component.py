from wayline.auth.router import router as auth_router
from wayline.users.router import router as users_router

routers = [auth_router, users_router]
