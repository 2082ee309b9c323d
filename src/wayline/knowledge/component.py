"""Knowledge collections: routers only (the service is built per request over the files runtime)."""

from wayline.knowledge.router import router

routers = [router]
