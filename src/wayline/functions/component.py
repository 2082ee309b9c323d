"""Function models (admin-managed Python pipes): routers only; the pipe provider runs them."""

from wayline.functions.router import router

routers = [router]
