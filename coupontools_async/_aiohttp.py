"""httpx-aiohttp's ``AiohttpTransport`` with transport errors mapped as httpcore maps them.

Imported only when a client actually sends through aiohttp (``import coupontools_async``
never loads aiohttp). httpx-aiohttp's own table turns every ``ClientConnectionError``
(a server that hung up after the request was sent, a reset while reading) into
``httpx.ConnectTimeout``, which says "the request never left": the retry layer would then
repeat a write the server may already have done. The table below keeps "never sent"
(connect errors and connect timeouts) apart from "sent, then lost".
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

import aiohttp
import anyio
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream

from ._transport import plain_encoding

__all__ = ["EXCEPTION_MAP", "FAST_READ_BYTES", "MappedAiohttpTransport", "map_error"]

_Source = type[BaseException] | tuple[type[BaseException], ...]
EXCEPTION_MAP: tuple[tuple[_Source, type[httpx.TransportError]], ...] = (
    # Order matters: the first row the error is an instance of wins.
    ((aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError), httpx.ProxyError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    ((aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError), httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    ((aiohttp.ClientPayloadError, aiohttp.ClientConnectionError), httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.TransportError),
    (asyncio.TimeoutError, httpx.ReadTimeout),
)
"""aiohttp's errors onto httpx's, one row per kind of failure."""


def map_error(exc: BaseException) -> httpx.TransportError | None:
    """The httpx error for an aiohttp one (or httpx-aiohttp's translation of one)."""
    original = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    for source, target in EXCEPTION_MAP:
        if isinstance(original, source):
            return target(str(original) or type(original).__name__)
    return exc if isinstance(exc, httpx.TransportError) else None


class _MappedStream(httpx.AsyncByteStream):
    """A response body whose read errors are mapped like the request's."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            # httpx does not close a stream that failed (or was cancelled) mid-read, and
            # aiohttp keeps the connection checked out until its response is released:
            # release it here, shielded, or the pool loses a connection per failure.
            with anyio.CancelScope(shield=True):
                await self._inner.aclose()
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


class MappedAiohttpTransport(AiohttpTransport):
    """``AiohttpTransport`` raising the httpx errors the retry layer reasons about."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through aiohttp's session (created on the first call)."""
        try:
            answer = await self._send(request)
            # Most answers: a few hundred bytes, not compressed, with their length. Read
            # here in one call (aiohttp reads exactly Content-Length bytes and closes the
            # connection if that fails), not through two layers of chunk iterators; the
            # caller's size cap still measures it (read_capped on a consumed response).
            body = await answer.read() if _small_and_plain(answer) else None
        except (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            mapped = map_error(exc)
            if mapped is None:  # pragma: no cover - the table ends with catch-alls
                raise
            raise mapped from exc
        extensions = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        if body is not None:
            response = httpx.Response(
                status_code=answer.status,
                headers=answer.raw_headers,
                stream=httpx.ByteStream(body),
                request=request,
                extensions=extensions,
            )
            # What httpx's own aread() leaves behind: the body read, the stream closed.
            response._content = body
            response.is_stream_consumed = True
            response.is_closed = True
            return response
        return httpx.Response(
            status_code=answer.status,
            headers=answer.raw_headers,
            stream=_MappedStream(AiohttpResponseStream(answer)),
            request=request,
            extensions=extensions,
        )

    async def _send(self, request: httpx.Request) -> aiohttp.ClientResponse:
        # httpx-aiohttp's own request, less two per-call costs: aiohttp reads the headers
        # as (name, value) pairs instead of through httpx.Headers' slow lookups, and the
        # ClientTimeout is built once per timeout.
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp frames the body
        timeout = request.extensions.get("timeout", {})
        proxy = self.proxy
        return await self.client.request(
            method=request.method,
            url=str(request.url),
            headers=request.headers.multi_items(),
            data=data,
            allow_redirects=False,
            auto_decompress=False,
            compress=False,
            timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
            server_hostname=request.extensions.get("sni_hostname"),
            proxy=str(proxy.url) if proxy else None,
            proxy_auth=aiohttp.BasicAuth(*proxy.auth) if proxy and proxy.auth else None,
            proxy_headers=proxy.headers if proxy else None,
        ).__aenter__()


FAST_READ_BYTES = 64 * 1024
"""Answers up to this size, with a Content-Length and no Content-Encoding, are read in
one call; larger, compressed or chunked ones stream through the caller's size cap."""


def _small_and_plain(answer: aiohttp.ClientResponse) -> bool:
    headers = answer.headers
    length = headers.get("Content-Length")
    if length is None or not length.isdigit() or int(length) > FAST_READ_BYTES:
        return False
    return plain_encoding(headers.get("Content-Encoding", ""))


@functools.lru_cache(maxsize=64)
def _timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for httpx's (immutable, so shared by every request)."""
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)
