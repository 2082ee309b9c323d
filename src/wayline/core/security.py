"""Passwords, JWTs and API keys.

Passwords use argon2id (argon2-cffi). API keys are `sk-` + 32 random bytes in hex;
only their SHA-256 is stored: a key has 256 bits of entropy, so a fast hash is
safe there, and it keeps the per-request lookup to one indexed equality.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's recommended argon2id profile (19 MiB, 2 passes, 1 lane): ~0.1 s per hash here,
# where argon2-cffi's default (64 MiB, 3 passes, 4 lanes) takes ~0.6 s on two cores.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A real hash (of a discarded random password) to verify against when the email is unknown,
# so the time a sign-in takes does not reveal which emails exist.
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1"  # algorithm, version, parameters (as `_hasher`)
    "$TWVBWQVSTqUHcrbgA8vF4A"  # salt
    "$OV2gp7hKvIySwaPz03yPebVH+JEfVnV4i0aX9lXSdBE"  # digest
)

API_KEY_PREFIX = "sk-"


# argon2 takes ~0.1 s of CPU and releases the GIL: hashing runs in a small pool of its own,
# so a burst of sign-ins queues there while /health and chat keep the event loop.
_hash_pool = ThreadPoolExecutor(
    max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="argon2"
)


def _hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hash_pool, _hash_password, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _hash_pool, _verify_password, password, password_hash
    )


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    jti: str
    epoch: int
    expires_at: int | None


def create_jwt(
    secret: str, user_id: str, epoch: int, expires_in: float | None
) -> tuple[str, TokenClaims]:
    issued = int(time.time())
    expires_at = None if expires_in is None else issued + int(expires_in)
    claims: dict[str, Any] = {
        "id": user_id,
        "jti": uuid.uuid4().hex,
        "iat": issued,
        "ep": epoch,
        "typ": "session",
    }
    if expires_at is not None:
        claims["exp"] = expires_at
    token = jwt.encode(claims, secret, algorithm="HS256")
    return token, TokenClaims(user_id, claims["jti"], epoch, expires_at)


def decode_jwt(secret: str, token: str) -> TokenClaims | None:
    """Verified claims, or None for a malformed, tampered or expired token."""
    try:
        data = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["id", "jti"]})
    except jwt.PyJWTError:
        return None
    if not isinstance(data.get("id"), str):
        return None
    return TokenClaims(data["id"], str(data["jti"]), int(data.get("ep", 0)), data.get("exp"))


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_hex(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mask_api_key(key: str) -> str:
    return f"{key[:7]}...{key[-4:]}"
