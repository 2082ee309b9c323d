"""`wayline user create | list | set-role | reset-password`: accounts, straight in the database
(through the same services as the API), for the operator who has no admin session: the first
admin of a closed install, or the admin who forgot the only password."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from wayline.cli.common import CliError, form_error, load_settings, print_table, read_password, when
from wayline.cli.database import Work, unit_of_work

if TYPE_CHECKING:
    from wayline.users.schemas import UserInfo

ROLES = ("admin", "user", "pending")
PAGE = 500


def register(sub: Any) -> None:
    group = sub.add_parser(
        "user", help="create and administer accounts", description="Administer accounts."
    )
    commands = group.add_subparsers(dest="user_command", required=True, metavar="COMMAND")

    create = commands.add_parser("create", help="create an account", description=_CREATE)
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--password-stdin", action="store_true", help=_STDIN)
    create.set_defaults(run=lambda args: asyncio.run(_create(args)))

    listing = commands.add_parser("list", help="list the accounts")
    listing.set_defaults(run=lambda args: asyncio.run(_list()))

    set_role = commands.add_parser(
        "set-role", help="change an account's role", description=_SET_ROLE
    )
    set_role.add_argument("email", metavar="EMAIL")
    set_role.add_argument("role", metavar="ROLE", choices=ROLES, help=" | ".join(ROLES))
    set_role.set_defaults(run=lambda args: asyncio.run(_set_role(args)))

    reset = commands.add_parser(
        "reset-password", help="set a new password, ending its sessions", description=_RESET
    )
    reset.add_argument("email", metavar="EMAIL")
    reset.add_argument("--password-stdin", action="store_true", help=_STDIN)
    reset.set_defaults(run=lambda args: asyncio.run(_reset_password(args)))


_STDIN = "read the password from the first line of stdin (else: typed twice at a terminal)"
_CREATE = "Create an account with the given role (no sign-up needed, even with ENABLE_SIGNUP off)."
_SET_ROLE = "Change an account's role. The last admin cannot be demoted."
_RESET = (
    "Set a new password. Every existing session of the account ends (its JWTs stop working); "
    "its API keys keep working."
)


def email_of(text: str) -> str:
    from wayline.users.schemas import check_email

    try:
        return check_email(text)
    except ValueError:
        raise CliError(f"{text!r} is not an email address") from None


async def find_user(work: Work, email: str) -> UserInfo:
    from wayline.users.repository import UserRepository
    from wayline.users.schemas import UserInfo

    row = await UserRepository(work.session).by_email(email_of(email))
    await work.session.commit()  # end the read: what follows may wait for a password
    if row is None:
        raise CliError(f"no user with email {email_of(email)}")
    return UserInfo.of(row)


async def all_users(work: Work) -> list[UserInfo]:
    from wayline.users.repository import UserRepository
    from wayline.users.schemas import UserInfo

    users = UserRepository(work.session)
    found: list[UserInfo] = []
    while page := await users.page(len(found), PAGE):
        found.extend(UserInfo.of(row) for row in page)
        if len(page) < PAGE:
            break
    return found


async def _create(args: argparse.Namespace) -> None:
    from pydantic import ValidationError

    from wayline.auth.schemas import SignupForm
    from wayline.core import errors
    from wayline.users.repository import UserRepository

    settings = load_settings()
    email = email_of(args.email)
    async with unit_of_work(settings) as work:
        taken = await UserRepository(work.session).by_email(email) is not None
        await work.session.commit()
        if taken:
            raise CliError(f"a user with email {email} already exists")
        password = read_password(args.password_stdin)
        try:
            form = SignupForm(name=args.name, email=email, password=password)
        except ValidationError as exc:
            raise CliError(form_error(exc)) from None
        try:
            user = await work.auth_service().create_user(form, args.role)
            await work.session.commit()
        except errors.WaylineError as exc:
            raise CliError(str(exc.detail)) from None
    print(f"created {user.role} {user.email} (id {user.id})")


async def _list() -> None:
    async with unit_of_work(load_settings()) as work:
        rows = await all_users(work)
    print_table(
        ("id", "email", "name", "role", "created"),
        [(u.id, u.email, u.name, u.role, when(u.created_at)) for u in rows],
    )


async def _set_role(args: argparse.Namespace) -> None:
    from wayline.core import errors
    from wayline.users.schemas import UserUpdateForm

    async with unit_of_work(load_settings()) as work:
        user = await find_user(work, args.email)
        if user.role == args.role:
            print(f"{user.email} is already {args.role}")
            return
        before = user.role
        try:
            await work.user_service().update(user, user.id, UserUpdateForm(role=args.role))
        except errors.WaylineError as exc:
            raise CliError(f"{user.email}: {exc.detail}") from None
        print(f"{user.email}: {before} → {args.role}")
        work.bus.report()


async def _reset_password(args: argparse.Namespace) -> None:
    from pydantic import ValidationError

    from wayline.core import errors
    from wayline.users.schemas import UserUpdateForm

    async with unit_of_work(load_settings()) as work:
        user = await find_user(work, args.email)
        password = read_password(args.password_stdin)
        try:
            form = UserUpdateForm(password=password)
        except ValidationError as exc:
            raise CliError(form_error(exc)) from None
        try:
            await work.user_service().update(user, user.id, form)
        except errors.WaylineError as exc:
            raise CliError(f"{user.email}: {exc.detail}") from None
        print(f"{user.email}: password reset; every existing session has ended")
        work.bus.report()
