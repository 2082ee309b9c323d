"""Accounts: sign-in, keys, user and group administration; the lifespan builds the authenticator
(every route's `current_principal`) and the sign-in limits, and seeds the first admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from wayline.auth.credentials import Authenticator
from wayline.auth.groups_router import router as groups_router
from wayline.auth.router import router as auth_router
from wayline.auth.service import AuthService, SigninLimits
from wayline.auth.users_router import router as users_router
from wayline.core.ratelimit import RedisRateLimiter, create_rate_limiter
from wayline.core.state import AppState

routers = [auth_router, users_router, groups_router]


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
    async with AsyncExitStack() as stack:
        for limiter in (limits.per_email, limits.per_address):
            if isinstance(limiter, RedisRateLimiter):
                stack.push_async_callback(limiter.close)
        async with core.db.sessionmaker() as session:
            await AuthService(session, settings, authenticator).on_startup()
        yield
