"""The per-call usage seam (issue 12): one `CallUsage` per finished model call (chat completion,
embedding call, image, transcription), handed to every `UsageObserver` on the `UsageHub`.

The usage domain registers the ledger (records queued, written in batches) and the Prometheus
token and time-to-first-token metrics; per-key token limits register theirs to settle what they
reserved. A domain that calls a model starts a `Meter` as the call starts and finishes it once:
finishing builds the record and hands it to each observer, synchronously, on the request path.
So an observer does only in-memory work (a queue put, a counter) and must not raise; one that
does is logged and skipped, never failing the caller's request.

It lives in `core` so that every layer can meter and observe without importing the usage domain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

log = logging.getLogger("wayline.usage")

# What was called: the ledger's `kind` column.
CHAT, EMBEDDING, IMAGE, TRANSCRIPTION = "chat", "embedding", "image", "transcription"
# The status recorded for a stream whose client went away before its end (nginx's convention).
CLIENT_CLOSED = 499


@dataclass(frozen=True, slots=True)
class CallUsage:
    kind: str
    user_id: str
    api_key_id: str | None  # None for a JWT session (bearer or cookie)
    model: str
    connection: str  # the upstream connection that answered ("" when none did)
    prompt_tokens: int
    completion_tokens: int
    status: int  # the HTTP status the client got; an error in a started stream counts as 502
    latency_ms: float  # from the call's start to its last byte
    time_to_first_token_ms: float | None  # streams only: to the first chunk of the answer
    estimated: bool  # the upstream gave no counts: they are Wayline's estimate
    created_at: int  # when the call started, epoch seconds

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageObserver(Protocol):
    def observe(self, usage: CallUsage) -> None:
        """Called once per finished call, on the request path: in-memory work only."""
        ...


class UsageHub:
    """The observers of finished calls; provided on the `AppState` by the usage component."""

    def __init__(self) -> None:
        self._observers: list[UsageObserver] = []

    def register(self, observer: UsageObserver) -> None:
        self._observers.append(observer)

    def emit(self, usage: CallUsage) -> None:
        for observer in self._observers:
            try:
                observer.observe(usage)
            except Exception:  # an observer's bug must not fail the call it observes
                log.exception("usage observer %r failed", observer)

    def start(
        self, kind: str, model: str, user_id: str, api_key_id: str | None, connection: str = ""
    ) -> Meter:
        return Meter(self, kind, model, user_id, api_key_id, connection)


def status_of(exc: BaseException) -> int:
    """The status a failed call answered with: a `WaylineError`'s own, 499 when the client went
    away (the request's task was cancelled), else 500."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return CLIENT_CLOSED
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else 500


class Meter:
    """One call being measured. `finish` emits its record once; later calls do nothing.

    As a context manager (calls answered in one piece): set the counts with `count`, and the
    block's end finishes the meter with 200, or with the status of the exception leaving it."""

    __slots__ = (
        "_hub",
        "_started",
        "api_key_id",
        "completion_tokens",
        "connection",
        "created_at",
        "estimated",
        "first_token_at",
        "kind",
        "model",
        "prompt_tokens",
        "user_id",
    )

    def __init__(
        self,
        hub: UsageHub | None,
        kind: str,
        model: str,
        user_id: str,
        api_key_id: str | None,
        connection: str = "",
        started: float | None = None,
    ) -> None:
        self._hub = hub
        self._started: float | None = time.perf_counter() if started is None else started
        self.created_at = int(time.time())
        self.kind = kind
        self.model = model
        self.user_id = user_id
        self.api_key_id = api_key_id
        self.connection = connection  # a provider that picks another deployment says which
        self.first_token_at: float | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.estimated = True

    @property
    def finished(self) -> bool:
        return self._started is None

    def served(self, model: str, connection: str) -> None:
        """Who answers: called by the provider, as a router's retry or fallback may have chosen
        another deployment or model than the one the call started with."""
        self.model = model
        self.connection = connection

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def count(self, prompt_tokens: int, completion_tokens: int, *, estimated: bool) -> None:
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.estimated = estimated

    def finish(self, status: int) -> CallUsage | None:
        started, self._started = self._started, None
        if started is None:
            return None
        ended = time.perf_counter()
        first = self.first_token_at
        usage = CallUsage(
            kind=self.kind,
            user_id=self.user_id,
            api_key_id=self.api_key_id,
            model=self.model,
            connection=self.connection,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            status=status,
            latency_ms=(ended - started) * 1000,
            time_to_first_token_ms=None if first is None else (first - started) * 1000,
            estimated=self.estimated,
            created_at=self.created_at,
        )
        if self._hub is not None:
            self._hub.emit(usage)
        return usage

    def __enter__(self) -> Meter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(200 if exc is None else status_of(exc))
