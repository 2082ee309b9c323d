from wayline.system.router import router

routers = [router]
