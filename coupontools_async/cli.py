"""The ``coupontools`` command (needs the ``cli`` extra: typer and rich).

``coupontools sandbox serve`` runs the sandbox on a port; more commands come with the
bulk import work (see the README).
"""

from __future__ import annotations

import sys
from typing import Annotated

try:
    import typer

    HAVE_TYPER = True
except ImportError:  # pragma: no cover - depends on the install
    HAVE_TYPER = False


def _missing_extra() -> int:
    print(
        "the coupontools command needs the cli extra: pip install 'coupontools-async[cli]'",
        file=sys.stderr,
    )
    return 2


def build_app() -> typer.Typer:
    """The typer application (built on demand so the library imports without typer)."""
    app = typer.Typer(
        name="coupontools",
        help="Coupontools API from the command line: imports, exports, webhooks, sandbox.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    sandbox_app = typer.Typer(help="A local Coupontools for tests and demos.", no_args_is_help=True)
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.command("serve")
    def sandbox_serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
        seed: Annotated[int, typer.Option(help="Seed of the data and the faults.")] = 0,
        sessions: Annotated[int, typer.Option(help="Coupon sessions to seed.")] = 2000,
        empty: Annotated[bool, typer.Option(help="Start with an empty account.")] = False,
        client_id: Annotated[str, typer.Option(help="Client id it accepts.")] = "sandbox-client-id",
        client_secret: Annotated[
            str, typer.Option(help="Client secret it accepts.")
        ] = "sandbox-client-secret",
        fault_rate: Annotated[float, typer.Option(help="Share of calls to fail (0-1).")] = 0.0,
        fault_kinds: Annotated[
            str, typer.Option(help="Comma-separated fault kinds (500,503,429,drop,commit_drop...).")
        ] = "500,503,429",
        latency: Annotated[float, typer.Option(help="Seconds added to every answer.")] = 0.0,
        session_page_size: Annotated[
            int, typer.Option(help="Sessions per page (default: 5000, as documented).")
        ] = 0,
    ) -> None:
        """Serve a stateful Coupontools sandbox on a port (needs the server extra: uvicorn)."""
        from .sandbox._serve import serve

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
            latency=latency,
            session_page_size=session_page_size or None,
        )

    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coupontools`` command."""
    if not HAVE_TYPER:  # pragma: no cover - depends on the install
        return _missing_extra()
    app = build_app()
    try:
        app(args=argv, prog_name="coupontools", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
