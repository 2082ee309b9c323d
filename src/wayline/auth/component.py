"""Accounts: sign-in, keys, user and group administration; the lifespan builds the authenticator
(every route's `current_principal`), the sign-in limits and the per-key limits' gate (which
observes the usage hub, to settle what it reserved), and seeds the first admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from wayline.auth.credentials import Authenticator
from wayline.auth.groups_router import router as groups_router
from wayline.auth.limits.gate import LimitGate
from wayline.auth.limits.middleware import LimitsMiddleware
from wayline.auth.limits.windows import create_counters
from wayline.auth.limits_router import router as limits_router
from wayline.auth.router import router as auth_router
from wayline.auth.service import AuthService, SigninLimits
from wayline.auth.users_router import router as users_router
from wayline.core.ratelimit import RedisRateLimiter, create_rate_limiter
from wayline.core.settings import Settings
from wayline.core.state import AppState
from wayline.core.usage import UsageHub

routers = [auth_router, users_router, limits_router, groups_router]


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(LimitsMiddleware)  # the limits' headers and settling, per request


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    core = state.core
    settings = core.settings
    authenticator = state.provide(Authenticator, Authenticator(settings, core.db, core.bus))
    limits = state.provide(
        SigninLimits,
        SigninLimits(
            # Open WebUI's sign-in limit: 15 attempts per email per 3 minutes.
            per_email=create_rate_limiter(settings.REDIS_URL, settings.REDIS_KEY_PREFIX, 15, 180),
            per_address=create_rate_limiter(
                settings.REDIS_URL,
                settings.REDIS_KEY_PREFIX,
                settings.SIGNIN_RATE_LIMIT_PER_IP,
                settings.SIGNIN_RATE_LIMIT_WINDOW,
            ),
        ),
    )
    gate = state.provide(
        LimitGate, LimitGate(create_counters(settings.REDIS_URL, settings.REDIS_KEY_PREFIX))
    )
    hub = state.find(UsageHub)  # the usage component starts first
    if hub is not None:
        hub.register(gate)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(gate.close)
        for limiter in (limits.per_email, limits.per_address):
            if isinstance(limiter, RedisRateLimiter):
                stack.push_async_callback(limiter.close)
        async with core.db.sessionmaker() as session:
            await AuthService(session, settings, authenticator).on_startup()
        yield
