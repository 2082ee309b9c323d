"""Loading stored function source into its own module namespace.

Trust model: function source is Python run in-process with the server's privileges,
which is why only admins may create or change it. The source is compiled as is
(never rewritten) into a fresh module `wayline_function_<id>`; nothing is installed
at any time: a `requirements:` line in the front-matter docstring is read only to
name the missing package when an import fails.
"""

from __future__ import annotations

import re
import sys
import types
from typing import Any

from wayline.core import errors

KINDS = ("Pipe", "Filter", "Action")
_FRONTMATTER = re.compile(r'^\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', re.S)


def frontmatter(source: str) -> dict[str, str]:
    """`key: value` lines of the leading docstring (Open WebUI's function manifest)."""
    match = _FRONTMATTER.match(source)
    if not match:
        return {}
    out: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            out[key.strip().lower()] = value.strip()
    return out


def module_name(function_id: str) -> str:
    return f"wayline_function_{function_id}"


def load(function_id: str, source: str) -> tuple[types.ModuleType, str]:
    """Execute `source` as a new module; returns it and its kind (`pipe`, `filter`, `action`).

    Any failure (syntax, a missing import, an exception at import time, no known class)
    is a 400 naming the problem."""
    name = module_name(function_id)
    module = types.ModuleType(name)
    module.__file__ = f"<function {function_id}>"
    try:
        code = compile(source, module.__file__, "exec")
    except SyntaxError as exc:
        raise errors.BadRequest(f"SyntaxError: {exc.msg} (line {exc.lineno})") from exc
    # Registered while executing so pydantic (Valves) can resolve the module's annotations.
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except ImportError as exc:
        _restore(name, previous)
        wanted = frontmatter(source).get("requirements")
        hint = (
            f" (declared requirements: {wanted}; Wayline never installs packages)" if wanted else ""
        )
        raise errors.BadRequest(f"{type(exc).__name__}: {exc}{hint}") from exc
    except Exception as exc:
        _restore(name, previous)
        raise errors.BadRequest(f"{type(exc).__name__}: {exc}") from exc
    for kind in KINDS:
        if isinstance(getattr(module, kind, None), type):
            return module, kind.lower()
    _restore(name, previous)
    raise errors.BadRequest(
        "No Function class found in the module (define a Pipe, Filter or Action class)"
    )


def _restore(name: str, previous: types.ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous


def unload(function_id: str) -> None:
    sys.modules.pop(module_name(function_id), None)


def instantiate(module: types.ModuleType, kind: str, valves: dict[str, Any] | None) -> Any:
    cls = getattr(module, kind.capitalize())
    try:
        instance = cls()
    except Exception as exc:
        raise errors.BadRequest(f"{cls.__name__}() failed: {type(exc).__name__}: {exc}") from exc
    apply_valves(instance, valves)
    return instance


def user_valves_class(module: types.ModuleType, kind: str) -> Any:
    """The function class's `UserValves` (what each user sets for themselves), or None."""
    return getattr(getattr(module, kind.capitalize(), None), "UserValves", None)


def valves_class(instance: Any) -> Any:
    return getattr(type(instance), "Valves", None) or getattr(instance, "Valves", None)


def apply_valves(instance: Any, values: dict[str, Any] | None) -> None:
    cls = valves_class(instance)
    if cls is None:
        return
    try:
        instance.valves = cls(**(values or {}))
    except Exception as exc:
        raise errors.BadRequest(f"Invalid valves: {exc}") from exc
