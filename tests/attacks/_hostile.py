"""What the attack tests share: credentials worth stealing and servers that try to."""

from __future__ import annotations

import json
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import httpx

from coupontools_async import AsyncClient, RetryPolicy

CLIENT_ID = "cid-ATTACK-5f0c2e9a"
CLIENT_SECRET = "csecret-ATTACK-b81d/77e4"  # a "/" as PHP's json_encode escapes it
BASE = "https://api.test"

STRAY_AROUND = ("\r", "\n", "\r\n", " ", "\t")
"""Stripped: what a CRLF .env file or a paste leaves around a credential."""
STRAY_INSIDE = ("\x00", "\x1b", "\x7f", "é", "\u2028")
"""Refused: what no HTTP header can carry (a NUL, an escape, non-ASCII)."""


async def no_sleep(_: float) -> None:
    return None


def client(**kwargs: Any) -> AsyncClient:
    """A client with the attack credentials and retries that never wait."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("retry", RetryPolicy(sleep=no_sleep, deadline=None))
    args = (kwargs.pop("client_id", CLIENT_ID), kwargs.pop("client_secret", CLIENT_SECRET))
    return AsyncClient(*args, base_url=kwargs.pop("base_url", BASE), **kwargs)


def echo_headers_page(request: httpx.Request, status: int = 502) -> httpx.Response:
    """A proxy's error page that prints the request headers back (as some do)."""
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in request.headers.items())
    return httpx.Response(status, html=f"<html><h1>Bad gateway</h1><table>{rows}</table></html>")


def echo_headers_json(request: httpx.Request, status: int = 400) -> httpx.Response:
    """A JSON error that quotes the headers back, PHP-escaped (``\\/``)."""
    quoted = dict(request.headers)
    text = json.dumps({"message": f"bad request with headers {quoted}", "headers": quoted})
    return httpx.Response(
        status,
        content=text.replace("/", "\\/").encode(),
        headers={"content-type": "application/json"},
    )


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def with_locals(exc: BaseException) -> str:
    """The library's frames of ``exc`` (and its causes) with their locals, as a
    locals-capturing reporter (rich ``show_locals``, Sentry) shows them.

    The test's own frames are left out: they hold the credentials it passed.
    """
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    blocks = text.split("\n  File ")
    return "\n".join(b for b in blocks if "/coupontools_async/" in b.split("\n", 1)[0])


def texts_of(exc: BaseException) -> str:
    """Every text a user or a log sees of an exception."""
    return "\n".join([str(exc), repr(exc), repr(vars(exc)), with_locals(exc)])


@asynccontextmanager
async def hang_up_server() -> AsyncIterator[str]:
    """A loopback server that reads each request and hangs up without answering."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    data += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            tg.cancel_scope.cancel()
