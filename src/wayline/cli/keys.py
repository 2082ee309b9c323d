"""`wayline key create | list | revoke`: API keys for any account, made and revoked the way the
API does it (only the hash is stored; the key is shown once)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from wayline.cli.common import CliError, form_error, load_settings, print_table, when
from wayline.cli.database import Work, unit_of_work
from wayline.cli.users import all_users, find_user

if TYPE_CHECKING:
    from wayline.auth.schemas import ApiKeyInfo
    from wayline.users.schemas import UserInfo


def register(sub: Any) -> None:
    group = sub.add_parser("key", help="create, list and revoke API keys", description=_KEYS)
    commands = group.add_subparsers(dest="key_command", required=True, metavar="COMMAND")

    create = commands.add_parser(
        "create", help="create an API key and print it", description=_CREATE
    )
    create.add_argument("--user", required=True, metavar="EMAIL", help="the key's owner")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument(
        "--expires-in-days", type=float, metavar="N", help="the key stops working after N days"
    )
    create.set_defaults(run=lambda args: asyncio.run(_create(args)))

    listing = commands.add_parser("list", help="list API keys (masked, never the secret)")
    listing.add_argument("--user", metavar="EMAIL", help="only this account's keys")
    listing.set_defaults(run=lambda args: asyncio.run(_list(args)))

    revoke = commands.add_parser("revoke", help="delete an API key (see `key list` for ids)")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(run=lambda args: asyncio.run(_revoke(args)))


_KEYS = "API keys (Bearer sk-…) for any account, without signing in as it."
_CREATE = (
    "Create a named API key. The key is printed once, alone on stdout "
    "(KEY=$(wayline key create ...)); only its hash is stored."
)


async def _keys_of(work: Work, user_id: str) -> list[ApiKeyInfo]:
    from wayline.auth.repository import ApiKeyRepository
    from wayline.auth.schemas import ApiKeyInfo

    return [
        ApiKeyInfo(
            id=row.id,
            name=row.name,
            masked=row.masked,
            is_default=row.is_default,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
        )
        for row in await ApiKeyRepository(work.session, user_id).list()
    ]


async def _create(args: argparse.Namespace) -> None:
    from pydantic import ValidationError

    from wayline.auth.schemas import ApiKeyCreateForm
    from wayline.core import errors

    settings = load_settings()
    if not settings.ENABLE_API_KEYS:
        raise CliError("API keys are disabled (ENABLE_API_KEYS=false)")
    try:
        form = ApiKeyCreateForm(name=args.name, expires_in_days=args.expires_in_days)
    except ValidationError as exc:
        raise CliError(form_error(exc)) from None
    async with unit_of_work(settings) as work:
        user = await find_user(work, args.user)
        if not user.is_verified:
            raise CliError(
                f"{user.email} is {user.role}: API keys need the role user or admin "
                f"(wayline user set-role {user.email} user)"
            )
        try:
            created = await work.auth_service().create_key(user, form)
        except errors.WaylineError as exc:
            raise CliError(str(exc.detail)) from None
    expiry = f", expires {when(created.expires_at)} UTC" if created.expires_at else ""
    print(
        f"wayline: created key {created.id} {created.name!r} for {user.email}{expiry}",
        file=sys.stderr,
    )
    print(created.api_key)


async def _list(args: argparse.Namespace) -> None:
    async with unit_of_work(load_settings()) as work:
        users: list[UserInfo] = (
            [await find_user(work, args.user)] if args.user else await all_users(work)
        )
        rows = []
        for user in users:
            for key in await _keys_of(work, user.id):
                rows.append(
                    (
                        key.id,
                        user.email,
                        key.name,
                        key.masked,
                        when(key.created_at),
                        when(key.expires_at),
                        when(key.last_used_at),
                    )
                )
    print_table(("id", "user", "name", "key", "created", "expires", "last used"), rows)


async def _revoke(args: argparse.Namespace) -> None:
    from wayline.auth.repository import ApiKeyRepository
    from wayline.core.db import begin_write

    async with unit_of_work(load_settings()) as work:
        for user in await all_users(work):
            key = next((k for k in await _keys_of(work, user.id) if k.id == args.key_id), None)
            if key is not None:
                break
        else:
            raise CliError(f"no API key with id {args.key_id} (see `wayline key list`)")
        # AuthService.revoke_key, less its check that the owner may hold keys: an operator
        # revokes the key of a pending account too, and with ENABLE_API_KEYS off.
        auth = work.auth_service()
        await begin_write(work.session)
        row = await ApiKeyRepository(work.session, user.id).get(key.id)
        if row is None:
            raise CliError(f"API key {key.id} was deleted meanwhile")
        await work.session.delete(row)
        await work.session.commit()
        await auth.authenticator.invalidate("api_key")
        print(f"revoked key {key.id} {key.name!r} of {user.email}")
        work.bus.report()
