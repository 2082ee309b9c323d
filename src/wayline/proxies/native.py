"""Which connections serve an API natively (OpenAI's `/responses`, Ollama's `/v1/messages` and
`/v1/responses`), learnt by asking: a request goes to the connection as is, and when the
connection answers as a server that has no such route, the request is translated to Chat
Completions instead and the answer remembered for that connection for `ttl` seconds. So no
configuration is needed, a server upgraded later is found again, and each worker pays one
refused request per connection and period.

"No such route" is 404, 405 or 501 whose message does not name a model: a 404 about an
unknown model is the model's answer, relayed as is (OpenAI's `model_not_found`, Ollama's
`model "x" not found`).
"""

from __future__ import annotations

import time

from wayline.core.errors import UpstreamError
from wayline.providers.connections import Connection

MISSING_ROUTE_TTL = 600.0


def route_missing(exc: UpstreamError) -> bool:
    if exc.status_code not in (404, 405, 501):
        return False
    return exc.code != "model_not_found" and "model" not in str(exc.detail).lower()


class NativeRoutes:
    def __init__(self, ttl: float = MISSING_ROUTE_TTL) -> None:
        self._ttl = ttl
        self._missing: dict[tuple[str, str, str], float] = {}

    @staticmethod
    def _key(conn: Connection, path: str) -> tuple[str, str, str]:
        return (conn.kind, conn.url, path)

    def served(self, conn: Connection, path: str) -> bool:
        """False while `conn` is known to lack `path`; true until then (worth asking)."""
        until = self._missing.get(self._key(conn, path))
        if until is None:
            return True
        if time.monotonic() >= until:
            self._missing.pop(self._key(conn, path), None)
            return True
        return False

    def mark_missing(self, conn: Connection, path: str) -> None:
        self._missing[self._key(conn, path)] = time.monotonic() + self._ttl
