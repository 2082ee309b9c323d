"""The one pooled HTTP client for every upstream call (providers, embeddings, images, audio).

Built in the lifespan and shared. aiohttp is used because its client costs far
less CPU per request than httpx's async pool under concurrency (see README,
"Design notes"); everything outside this module sees only `UpstreamClient`,
`UpstreamResponse` and `UpstreamStream`, so the choice can change here alone.

Transport failures are translated at this boundary: connect errors become
`UpstreamUnavailable` (502), time-outs `UpstreamTimeout` (504), and `raise_for_status`
turns an upstream 4xx/5xx into `UpstreamError` with the upstream's own message.

Credentials in a URL (`http://user:password@host`) never leave this module in text:
they are taken out of the URL and sent as Basic auth — only when the request carries no
`Authorization` of its own, because an explicit API key wins (aiohttp refuses both) —
and error messages name the host without them.

A call made while serving a request carries its `X-Request-ID` (`core.request_id`), so the
upstream's logs can be matched with ours, and its waits for the upstream are added to the
request's `UpstreamWaits` (`core.request_metrics`: the gateway's own overhead is the rest).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import orjson

from wayline.core.errors import (
    BadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    redact,
)
from wayline.core.request_id import request_id
from wayline.core.request_metrics import upstream_waits

_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_credentials(url: str) -> tuple[str, str | None]:
    """`http://user:pw@host/x` -> (`http://host/x`, `Basic dXNlcjpwdw==`); other URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed (an unclosed IPv6 bracket): the request itself reports it
        return url, None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return urlunsplit(parts._replace(netloc=hostport)), f"Basic {token}"


def _with_url_credentials(url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    clean, basic = split_credentials(url)
    if basic is not None and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = basic
    return clean, headers


def origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port filled in: what a key belongs to.
    None for a URL without a host or with a malformed one."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        return None
    return (scheme, parts.hostname.lower(), port) if parts.hostname else None


def same_origin(url: str, base: str) -> bool:
    own = origin(url)
    return own is not None and own == origin(base)


@dataclass
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def raise_for_status(self) -> UpstreamResponse:
        if self.status >= 400:
            raise upstream_error(self.status, self.body, self.headers)
        return self


class UpstreamStream:
    """A streaming response; iterate bytes or lines. Closing it aborts the upstream request."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        waits = upstream_waits()
        if waits is not None:
            waits.begin()
        try:
            return await self._response.read()
        finally:
            if waits is not None:
                waits.end()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        async for chunk in _translate(self._response.content.iter_any()):
            yield chunk

    async def iter_lines(self) -> AsyncIterator[bytes]:
        """Lines without their line ending; handles lines split across reads."""
        async for line in _translate(self._response.content):
            yield line.rstrip(b"\r\n")

    async def raise_for_status(self) -> None:
        if self.status >= 400:
            raise upstream_error(self.status, await self._response.read(), self.headers)


async def _translate(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    waits = upstream_waits()  # the wait for each piece is the upstream's time, not ours
    items = source.__aiter__()
    while True:
        if waits is not None:
            waits.begin()
        try:
            item = await items.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise UpstreamTimeout() from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(f"Upstream connection lost: {redact(str(exc))}") from exc
        finally:
            if waits is not None:
                waits.end()
        yield item


_RELAYED_HEADERS = ("Retry-After", "x-should-retry")


def upstream_error(status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
    """The upstream's 4xx/5xx as our error: its message (OpenAI's `error.message`, Ollama's
    `error`, or `detail`), OpenAI's `type`/`code`/`param` when given, and its retry headers."""
    relayed = {name: headers[name] for name in _RELAYED_HEADERS if headers.get(name)}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return UpstreamError(
            status, text[:2000] or f"Upstream returned HTTP {status}", headers=relayed or None
        )
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return UpstreamError(
            status,
            err["message"],
            headers=relayed or None,
            code=_text(err.get("code")),
            error_type=_text(err.get("type")),
            param=_text(err.get("param")),
        )
    if isinstance(err, str):
        detail: Any = err
    elif isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
    else:
        detail = data
    return UpstreamError(status, detail, headers=relayed or None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class UpstreamClient:
    def __init__(self, *, timeout: float, connect_timeout: float, limit: int = 0) -> None:
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient used before start()")
        return self._session

    def _timeout_for(self, timeout: float | None) -> aiohttp.ClientTimeout:
        # `sock_read` bounds the wait for each piece of a response, so a hung upstream
        # is detected in `timeout` seconds even in the middle of a long stream.
        read = self._timeout if timeout is None else timeout
        return aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout, sock_read=read)

    @staticmethod
    def _body(json: Any, data: Any, headers: dict[str, str] | None) -> tuple[Any, dict[str, str]]:
        headers = dict(headers or {})
        rid = request_id()
        if rid is not None:
            for name in [k for k in headers if k.lower() == "x-request-id"]:
                del headers[name]  # a client's header forwarded as is: ours is the checked one
            headers["X-Request-ID"] = rid
        if json is not None:
            headers.setdefault("Content-Type", "application/json")
            try:
                return orjson.dumps(json), headers
            except orjson.JSONEncodeError as exc:  # e.g. integers beyond 64 bits, lone surrogates
                raise BadRequest(f"The request cannot be forwarded as JSON: {exc}") from exc
        return data, headers

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> UpstreamResponse:
        body, headers = self._body(json, data, headers)
        if "@" in url:  # cheap test first: connection URLs are stored without credentials
            url, headers = _with_url_credentials(url, headers)
        with _awaiting_upstream(url):
            async with self.session.request(
                method,
                url,
                data=body,
                headers=headers,
                params=params,
                timeout=self._timeout_for(timeout),
            ) as resp:
                return UpstreamResponse(resp.status, resp.headers, await resp.read())

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[UpstreamStream]:
        body, headers = self._body(json, data, headers)
        if "@" in url:
            url, headers = _with_url_credentials(url, headers)
        with _awaiting_upstream(url):
            resp = await self.session.request(
                method,
                url,
                data=body,
                headers=headers,
                params=params,
                timeout=self._timeout_for(timeout),
            )
        try:
            yield UpstreamStream(resp)
        finally:
            # Leaving early (client gone, error) closes the connection instead of draining it,
            # which is what cancels the upstream's work.
            resp.close()


@contextmanager
def _awaiting_upstream(url: str) -> Iterator[None]:
    """Around a wait for the upstream: counted as the request's upstream wait, and aiohttp's
    transport failures become our 504 / 502, naming the upstream host."""
    waits = upstream_waits()
    if waits is not None:
        waits.begin()
    try:
        yield
    except TimeoutError as exc:
        raise UpstreamTimeout(f"Upstream {_host(url)} timed out") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamUnavailable(
            f"Upstream {_host(url)} is unreachable: {redact(str(exc))}"
        ) from exc
    except ValueError as exc:  # aiohttp's refusals of a malformed URL or header (not ClientErrors)
        raise UpstreamUnavailable(
            f"Upstream {_host(url)} cannot be called: {redact(str(exc))}"
        ) from exc
    finally:
        if waits is not None:
            waits.end()


def _host(url: str) -> str:
    """`host:port` of `url`, never its credentials."""
    return url.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[2]
