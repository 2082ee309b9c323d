"""What the lifespan builds once and every domain shares.

`Core` is the infrastructure every service is built on. `AppState` is the one object on
`app.state` (`app.state.wayline`): `Core` plus the services the components build at start-up,
found by their class (or, for a seam typed by a protocol, by a `Slot`), so every read is typed
and a missing service is a start-up bug named in the error, not an `AttributeError` later.
Handlers reach it through one dependency, `get_state`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast, overload

from starlette.requests import HTTPConnection

from wayline.core.bus import Bus
from wayline.core.db import Database
from wayline.core.http import UpstreamClient
from wayline.core.runtime_config import RuntimeConfig
from wayline.core.settings import Settings

T = TypeVar("T")


@dataclass
class Core:
    settings: Settings
    db: Database
    bus: Bus
    http: UpstreamClient
    runtime_config: RuntimeConfig


class Slot(Generic[T]):
    """A typed key for a service known by its protocol rather than by a class (mypy cannot
    take a protocol where `type[T]` is expected). Declared next to the protocol it carries."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


@dataclass
class AppState:
    core: Core
    _services: dict[object, object] = field(default_factory=dict, repr=False)

    def provide(self, key: type[T] | Slot[T], service: T) -> T:
        if key in self._services:
            raise RuntimeError(f"{_name(key)} is provided twice")
        self._services[key] = service
        return service

    @overload
    def get(self, key: type[T]) -> T: ...
    @overload
    def get(self, key: Slot[T]) -> T: ...
    def get(self, key: Any) -> Any:
        try:
            return self._services[key]
        except KeyError:
            raise LookupError(f"no {_name(key)} was built at start-up") from None

    @overload
    def find(self, key: type[T]) -> T | None: ...
    @overload
    def find(self, key: Slot[T]) -> T | None: ...
    def find(self, key: Any) -> Any:
        """The service, or None where it is optional (e.g. retrieval without an embedder)."""
        return self._services.get(key)


def _name(key: object) -> str:
    return key.name if isinstance(key, Slot) else getattr(key, "__name__", repr(key))


def get_state(conn: HTTPConnection) -> AppState:
    return cast(AppState, conn.app.state.wayline)


def get_core(conn: HTTPConnection) -> Core:
    return get_state(conn).core
