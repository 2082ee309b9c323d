"""What every command shares: settings read like the server's, one-line failures, tables,
passwords from a terminal or stdin."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pydantic import ValidationError

    from wayline.core.settings import Settings

# Values of these settings may hold credentials: a complaint names the setting, never echoes it.
_SECRET_NAME = re.compile(r"KEY|PASSWORD|SECRET|URL|CONFIGS")
_MAX_ECHO = 80


class CliError(Exception):
    """A failure the operator can act on: `main` prints `wayline: <message>` and exits `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def load_settings() -> Settings:
    """`Settings()` from the environment, or exit with one line per invalid variable (status 2)."""
    from pydantic import ValidationError

    from wayline.core.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for line in describe(exc):
            print(f"wayline: {line}", file=sys.stderr)
        sys.exit(2)


def describe(exc: ValidationError) -> list[str]:
    """One line per invalid setting: its name, the value, what is accepted."""
    from wayline.core.settings import Settings, choices, not_one_of

    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else ""
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        value: Any = error.get("input")
        field = Settings.model_fields.get(name)
        if not name or field is None:
            lines.append(message)  # a rule across settings (its message names them)
        elif error.get("type") == "literal_error":
            lines.append(not_one_of(name, value, choices(field.annotation)))
        elif _SECRET_NAME.search(name) or not isinstance(value, str | int | float):
            lines.append(message if message.startswith(name) else f"{name} is invalid: {message}")
        else:
            shown = value if len(str(value)) <= _MAX_ECHO else f"{str(value)[:_MAX_ECHO]}…"
            lines.append(f"{name}={shown!r} is invalid: {message}")
    return lines


def form_error(exc: ValidationError) -> str:
    """A pydantic form's complaint in one line: `field: message; field: message`."""
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error.get("loc") or ())
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts)


def when(stamp: int | None) -> str:
    """A Unix time as the tables show it (UTC, to the minute); `-` for none."""
    if stamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp))


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], file: TextIO | None = None
) -> None:
    """Columns padded to their widest cell, headers in capitals; the last column unpadded."""
    out = file or sys.stdout
    cells = [[str(h).upper() for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        print("  ".join([*padded, row[-1]]).rstrip(), file=out)


def read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin with `--password-stdin`, else typed twice at a
    terminal. Refused when neither is possible, so a script never hangs on a prompt."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise CliError("--password-stdin: stdin held no password (an empty first line)")
        return password
    if not sys.stdin.isatty():
        raise CliError("no password given: pass --password-stdin, or run this in a terminal")
    import getpass

    password = getpass.getpass("Password: ")
    if not password:
        raise CliError("the password is empty")
    if getpass.getpass("Repeat password: ") != password:
        raise CliError("the passwords do not match")
    return password


def note(message: str) -> None:
    print(f"wayline: {message}", file=sys.stderr)
