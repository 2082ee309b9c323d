"""Who pays for a call: the `UsageScope` a request hands to the services that call models."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from wayline.core.state import get_state
from wayline.core.usage import Meter, UsageHub


def api_key_id(conn: HTTPConnection) -> str | None:
    """The API key that authenticated the request, None for a JWT session. Read when the meter
    starts, after authentication (`auth.deps.current_principal` keeps the principal on the
    request's state)."""
    principal = getattr(conn.state, "principal", None)
    key = getattr(principal, "api_key_id", None)
    return key if isinstance(key, str) else None


@dataclass(frozen=True, slots=True)
class UsageScope:
    hub: UsageHub | None
    request: HTTPConnection | None = None

    def start(
        self,
        kind: str,
        user_id: str,
        model: str,
        connection: str = "",
        started: float | None = None,
    ) -> Meter:
        """A meter for one call; `started` (a `time.perf_counter()` reading) when the request's
        own work began before the model was known."""
        key = api_key_id(self.request) if self.request is not None else None
        return Meter(self.hub, kind, model, user_id, key, connection, started)


# For callers outside a request (and services built without one): meters that record nothing.
UNMETERED = UsageScope(None)


def usage_scope(conn: HTTPConnection) -> UsageScope:
    return UsageScope(get_state(conn).find(UsageHub), conn)
