"""The Sandbox as an ASGI application, for uvicorn (``coupontools sandbox serve``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio

from ._sandbox import ConnectionDropped, ConnectionRefused

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["SandboxASGI"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Abort(Exception):
    """Raised after a response has started: the server closes the connection mid-answer."""


class SandboxASGI:
    """ASGI app serving one Sandbox. Dropped-connection faults start an answer and abort it,
    which an HTTP server turns into a connection closed before the body (what clients see
    when a real server dies mid-answer)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            answer = await self.sandbox.handle(
                scope["method"], scope["path"], headers, b"".join(chunks)
            )
        except (ConnectionDropped, ConnectionRefused):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            raise _Abort("sandbox fault: connection dropped") from None
        if answer.delay > 0:
            await anyio.sleep(answer.delay)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(k.encode(), v.encode()) for k, v in answer.headers],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})
