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
from collections.abc import AsyncIterator

import aiohttp
import anyio
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["EXCEPTION_MAP", "MappedAiohttpTransport", "map_error"]

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
            response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            mapped = map_error(exc)
            if mapped is None:  # pragma: no cover - the table ends with catch-alls
                raise
            raise mapped from exc
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _MappedStream(response.stream)
        return response
