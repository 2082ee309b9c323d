"""Turning a request's credential into a `Principal`, fast.

Order (Open WebUI's): `Authorization: Bearer`, then the `token` cookie, then the
`CUSTOM_API_KEY_HEADER` header. `sk-` selects the API-key path, anything else is
a JWT. A resolved credential is cached in the worker for `AUTH_CACHE_TTL` seconds,
so an authenticated request costs a dictionary lookup (plus HS256 verification for
JWTs), not a database round trip. Every change that can invalidate a credential
(revoke, sign-out, password or role change, deletion) publishes `auth.invalidate`
on the bus, which clears the cache in every worker before the next request.

A principal carries the user's groups (`UserInfo.group_ids`, inherited ones included): group
grants are checked against them. A membership or hierarchy change publishes `ACCOUNTS_CHANGED`,
which clears this cache too, so a removed member's next request is checked without the group.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request

from wayline.auth.limits.policy import Limits, LimitValues, effective
from wayline.auth.limits.repository import user_limit_values
from wayline.auth.repository import is_revoked, key_with_owner, touch_key
from wayline.core import errors
from wayline.core.bus import RECONNECTED, Bus
from wayline.core.db import Database
from wayline.core.security import API_KEY_PREFIX, decode_jwt, hash_api_key
from wayline.core.settings import Settings
from wayline.users.group_repository import GroupRepository
from wayline.users.repository import UserRepository
from wayline.users.schemas import UserInfo
from wayline.users.service import ACCOUNTS_CHANGED

INVALIDATE_TOPIC = "auth.invalidate"
log = logging.getLogger("wayline.auth")


@dataclass(frozen=True)
class Principal:
    user: UserInfo
    auth_type: Literal["jwt", "api_key"]
    token: str
    jti: str | None = None
    token_expires_at: int | None = None
    api_key_id: str | None = None
    # What the credential may do (`auth/limits`): None, the usual case, for no limit at all.
    limits: Limits | None = None


@dataclass
class _Entry:
    principal: Principal
    cached_at: float


def extract_token(request: Request, api_key_header: str) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    cookie = request.cookies.get("token")
    if cookie:
        return cookie
    return request.headers.get(api_key_header) or None


class Authenticator:
    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self._settings = settings
        self._db = db
        self._bus = bus
        self._secret = settings.secret_key
        # Without a shared bus, other workers could not be told to forget a revoked key.
        shared_or_single = bus.shared or settings.UVICORN_WORKERS <= 1
        self._ttl = settings.AUTH_CACHE_TTL if shared_or_single else 0.0
        self._cache: dict[str, _Entry] = {}
        # Concurrent first requests with one credential share one database lookup.
        self._inflight: dict[str, asyncio.Future[Principal]] = {}
        # Bumped on every invalidation: a lookup that started before it must not be cached.
        self._generation = 0
        bus.subscribe(INVALIDATE_TOPIC, self._on_invalidate)
        bus.subscribe(ACCOUNTS_CHANGED, self._on_invalidate)
        bus.subscribe(RECONNECTED, self._on_invalidate)  # messages may have been missed

    def _on_invalidate(self, _: dict[str, Any]) -> None:
        self._generation += 1
        self._cache.clear()

    async def invalidate(self, reason: str) -> None:
        await self._bus.publish(INVALIDATE_TOPIC, {"reason": reason})

    async def authenticate(self, request: Request) -> Principal:
        token = extract_token(request, self._settings.CUSTOM_API_KEY_HEADER)
        if not token:
            raise errors.Unauthorized(errors.NOT_AUTHENTICATED)
        is_key = token.startswith(API_KEY_PREFIX)
        if is_key and not self._settings.ENABLE_API_KEYS:
            raise errors.Forbidden(errors.API_KEY_NOT_ALLOWED)

        entry = self._cache.get(token)
        clock = time.monotonic()
        if entry is not None and clock - entry.cached_at < self._ttl:
            principal = entry.principal
        else:
            principal = await self._load_once(token, is_key)

        expires = principal.token_expires_at
        if expires is not None and expires <= time.time():
            self._cache.pop(token, None)
            raise errors.Unauthorized(errors.INVALID_TOKEN if is_key else errors.UNAUTHORIZED)
        return principal

    async def _load_once(self, token: str, is_key: bool) -> Principal:
        pending = self._inflight.get(token)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._inflight[token] = future
        generation = self._generation
        try:
            principal = await (self._load_api_key(token) if is_key else self._load_jwt(token))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else has to
            raise
        finally:
            self._inflight.pop(token, None)
        future.set_result(principal)
        if self._ttl > 0 and generation == self._generation:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = _Entry(principal, time.monotonic())
        return principal

    async def _load_api_key(self, token: str) -> Principal:
        async with self._db.sessionmaker() as session:
            found = await key_with_owner(session, hash_api_key(token))
            if found is None:
                raise errors.Unauthorized(errors.INVALID_TOKEN)
            key, user = found
            groups = await GroupRepository(session).effective_group_ids(user.id)
            ceiling = await user_limit_values(session, user.id)
        user = dataclasses.replace(user, group_ids=groups)
        if key.expires_at is None or key.expires_at > time.time():  # (an expired key is refused)
            await self._touch(user.id, key.id)
        return Principal(
            user,
            "api_key",
            token,
            token_expires_at=key.expires_at,
            api_key_id=key.id,
            limits=effective(f"k:{key.id}", LimitValues.of(key), ceiling),
        )

    async def _touch(self, user_id: str, key_id: str | None = None) -> None:
        """Record the use of a credential: the account's `last_active_at` (Open WebUI moves it
        on every request; here when the credential is looked up, so at most once per
        `AUTH_CACHE_TTL` per credential and worker) and a key's `last_used_at`. In its own short
        transaction that starts with the write: upgrading the lookup's read transaction to a
        write fails at once ("database is locked") on a busy SQLite, where a write-first
        transaction waits its turn."""
        try:
            async with self._db.write() as session:
                await UserRepository(session).touch_active(user_id)
                if key_id is not None:
                    await touch_key(session, key_id, int(time.time()))
        except Exception:
            log.warning("could not record a credential's use", exc_info=True)

    async def _load_jwt(self, token: str) -> Principal:
        claims = decode_jwt(self._secret, token)
        if claims is None:
            raise errors.Unauthorized(errors.UNAUTHORIZED)
        async with self._db.sessionmaker() as session:
            user = await UserRepository(session).get(claims.user_id)
            if user is None:
                raise errors.Unauthorized(errors.INVALID_TOKEN)
            if claims.epoch != user.token_epoch or await is_revoked(session, claims.jti):
                raise errors.Unauthorized("Invalid token")
            groups = await GroupRepository(session).effective_group_ids(user.id)
            ceiling = await user_limit_values(session, user.id)
        await self._touch(user.id)
        return Principal(
            UserInfo.of(user, groups),
            "jwt",
            token,
            jti=claims.jti,
            token_expires_at=claims.expires_at,
            # Every session of the user shares one set of counters, under the user's limits.
            limits=effective(f"u:{user.id}", None, ceiling),
        )
