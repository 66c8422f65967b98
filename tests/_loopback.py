"""A tiny HTTP/1.1 server on 127.0.0.1, run in the test's own event loop (asyncio or trio).

Each test scripts its answers with an async handler, and sees what arrived: the requests,
the connections, how many requests were in flight at once. :func:`forward_proxy` is a
handler that forwards plain-HTTP absolute-form requests, as an HTTP proxy does.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import httpx

__all__ = ["Answer", "Loopback", "Request", "forward_proxy", "json_answer", "loopback"]


@dataclass
class Request:
    """One request as it arrived."""

    method: str
    target: str
    """The request line's target: ``/path?query`` or, to a proxy, ``http://host/path``."""
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    connection: int
    """Which connection (from 1, in the order they were accepted) carried it."""


@dataclass
class Answer:
    """What the handler answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang_up: bool = False
    """Close the connection instead of answering (the request was read)."""


Handler = Callable[[Request], Awaitable[Answer]]


def json_answer(payload: Any, status: int = 200) -> Answer:
    """A JSON answer."""
    return Answer(status, json.dumps(payload).encode(), {"content-type": "application/json"})


@dataclass
class Loopback:
    """A running server: its URL and what it saw."""

    url: str
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


async def _read_request(stream: anyio.abc.ByteStream, buffer: bytearray) -> tuple[bytes, bytes]:
    while b"\r\n\r\n" not in buffer:
        buffer += await stream.receive()
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head, rest


@contextlib.asynccontextmanager
async def loopback(handler: Handler) -> AsyncIterator[Loopback]:
    """Serve ``handler`` on a free loopback port until the block ends."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server = Loopback(f"http://127.0.0.1:{port}")

    async def serve(stream: anyio.abc.SocketStream) -> None:
        server.connections += 1
        number = server.connections
        buffer = bytearray()
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                while True:
                    head, _ = await _read_request(stream, buffer)
                    lines = head.decode("latin-1").split("\r\n")
                    method, target, _version = lines[0].split(" ", 2)
                    headers = {}
                    for line in lines[1:]:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                    length = int(headers.get("content-length", "0"))
                    while len(buffer) < length:
                        buffer += await stream.receive()
                    body, buffer[:] = bytes(buffer[:length]), buffer[length:]
                    request = Request(method, target, headers, body, number)
                    server.requests.append(request)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    try:
                        answer = await handler(request)
                    finally:
                        server.in_flight -= 1
                    if answer.hang_up:
                        return
                    out = {"content-length": str(len(answer.body)), **answer.headers}
                    status_line = (
                        f"HTTP/1.1 {answer.status} {'OK' if answer.status < 400 else 'Error'}"
                    )
                    lines_out = [status_line, *(f"{k}: {v}" for k, v in out.items())]
                    await stream.send(("\r\n".join(lines_out) + "\r\n\r\n").encode() + answer.body)
                    if out.get("connection") == "close":
                        return

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


def forward_proxy(upstream: httpx.AsyncClient) -> Handler:
    """A handler forwarding ``GET http://host/path`` (absolute form) through ``upstream``.

    What a plain-HTTP proxy does: it drops the hop-by-hop and ``Proxy-*`` headers and
    closes each client connection after its answer.
    """

    async def forward(request: Request) -> Answer:
        if not request.target.startswith("http://"):
            return Answer(400, b"not an absolute-form proxy request", {"connection": "close"})
        hop = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "host"}
        headers = {k: v for k, v in request.headers.items() if k not in hop}
        response = await upstream.request(
            request.method, request.target, headers=headers, content=request.body
        )
        skip = {"content-length", "connection", "transfer-encoding", "content-encoding"}
        kept = {k: v for k, v in response.headers.items() if k.lower() not in skip}
        return Answer(response.status_code, response.content, {**kept, "connection": "close"})

    return forward
