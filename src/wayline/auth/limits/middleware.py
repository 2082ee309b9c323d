"""Around every HTTP request: the request's `RequestSlot` (what `enforce` fills in), the
`x-ratelimit-*` headers on its answer, and its settling once the answer has ended.

Pure ASGI, so that "ended" means the last byte of a stream was sent, or the client went away:
until then the request holds its in-flight place.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wayline.auth.limits.gate import close_slot, open_slot


class LimitsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot, token = open_slot()

        async def send_with_limits(message: Message) -> None:
            admission = slot.admission
            if admission is not None and message["type"] == "http.response.start":
                extra = admission.headers()
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_limits)
        finally:
            close_slot(token)
            if slot.admission is not None:
                await slot.admission.gate.finish(slot.admission)
