"""``coupontools sandbox serve``: a stateful Coupontools on a local port."""

from __future__ import annotations

import errno
import socket
from typing import Annotated

import typer

from ._common import EXIT_USAGE, _error
from ._help import _group

group = _group("A local Coupontools for tests and demos.")


@group.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    seed: Annotated[int, typer.Option(help="Seed of the data and the faults.")] = 0,
    sessions: Annotated[int, typer.Option(help="Coupon sessions to seed.")] = 2000,
    empty: Annotated[bool, typer.Option("--empty", help="Start with an empty account.")] = False,
    client_id: Annotated[str, typer.Option(help="Client id it accepts.")] = "sandbox-client-id",
    client_secret: Annotated[
        str, typer.Option(help="Client secret it accepts.")
    ] = "sandbox-client-secret",
    fault_rate: Annotated[float, typer.Option(help="Share of calls to fail (0-1).")] = 0.0,
    fault_kinds: Annotated[
        str, typer.Option(help="Comma-separated fault kinds (500,503,429,drop,commit_drop...).")
    ] = "500,503,429",
    retry_after: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds a 429 or 503 fault asks to wait (Retry-After; whole from 1)."
        ),
    ] = 1.0,
    latency: Annotated[float, typer.Option(help="Seconds added to every answer.")] = 0.0,
    session_page_size: Annotated[
        int | None,
        typer.Option(min=1, help="Sessions per page (default: 100, as the live API pages)."),
    ] = None,
) -> None:
    """Serve a stateful Coupontools sandbox on a port (needs the server extra: uvicorn).

    Point the command at it with --base-url http://HOST:PORT and
    COUPONTOOLS_CLIENT_ID=sandbox-client-id COUPONTOOLS_CLIENT_SECRET=sandbox-client-secret.
    """
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        _error("sandbox serve needs the server extra: pip install 'coupontools-async[server]'")
        raise typer.Exit(EXIT_USAGE) from None
    problem = _cannot_listen(host, port)
    if problem is not None:  # before the banner, which would say it is serving
        _error(f"cannot listen on {host}:{port}: {problem}")
        raise typer.Exit(EXIT_USAGE)
    from ..sandbox._serve import serve

    serve(
        host=host,
        port=port,
        seed=seed,
        sessions=sessions,
        empty=empty,
        client_id=client_id,
        client_secret=client_secret,
        fault_rate=fault_rate,
        fault_kinds=[k.strip() for k in fault_kinds.split(",") if k.strip()],
        retry_after=retry_after,
        latency=latency,
        session_page_size=session_page_size,
    )


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (taken, not an address here), or None.

    Bound as uvicorn binds (SO_REUSEADDR), so a port it could use is not refused.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        return f"{host!r} is not an address of this machine ({exc})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is taken (choose another with --port)"
            return exc.strerror or str(exc)
    return None
