"""Placeholder: this domain's routers and lifespan are added by its issue."""

routers: list = []
