"""An httpx transport that answers from a Sandbox in process: no socket, no port."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import httpx

from ._sandbox import ConnectionDropped, ConnectionRefused

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.AsyncBaseTransport):
    """Send requests to ``sandbox`` in process, with the faults it injects.

    Faults come out as the errors a real network gives: a refused connection is
    ``httpx.ConnectError``, a dropped one ``httpx.RemoteProtocolError``, an answer slower
    than the request's read timeout ``httpx.ReadTimeout`` (the call was applied).
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request from the sandbox."""
        body = await request.aread()
        try:
            answer = await self.sandbox.handle(
                request.method, request.url.path, request.headers, body
            )
        except ConnectionRefused:
            raise httpx.ConnectError(
                "Connection refused (sandbox fault)", request=request
            ) from None
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response (sandbox fault).", request=request
            ) from None
        if answer.delay > 0:
            timeout = request.extensions.get("timeout", {}).get("read")
            if timeout is not None and answer.delay > timeout:
                await anyio.sleep(timeout)
                raise httpx.ReadTimeout("The read operation timed out (sandbox).", request=request)
            await anyio.sleep(answer.delay)
        return httpx.Response(
            answer.status, headers=list(answer.headers), content=answer.content, request=request
        )
