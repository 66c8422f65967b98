"""The ``coupontools`` application: global options, one command group a module, and how
usage errors, a closed pipe and Ctrl-C are told."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from . import _coupons, _sandbox_serve, _sessions, _wallet_cards, _wallet_users, _webhooks
from ._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    _describe,
    _error,
    _leaf,
    _one_line,
    _Options,
    _print_traceback,
    _reader_left,
    _setup_debug_logging,
)
from ._demo import demo
from ._help import _Group, _use_readable_commands

__all__ = ["app", "run"]

app = typer.Typer(
    cls=_Group,
    name="coupontools",
    help=(
        "Coupontools API from the command line: imports, exports, webhooks, sandbox.\n\n"
        "Credentials come from COUPONTOOLS_CLIENT_ID and COUPONTOOLS_CLIENT_SECRET. "
        "Try `coupontools demo`, or any command with --sandbox: no account needed."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
"""The typer application (``typer.main.get_command(app)`` is its click command)."""


@app.callback()
def global_options(
    ctx: typer.Context,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help=(
                "Talk to a seeded sandbox in this process instead of the API (no account, "
                "no network). Its data lives for this one command only: for state across "
                "commands, run `coupontools sandbox serve` and use --base-url."
            ),
        ),
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="API root (default: $COUPONTOOLS_BASE_URL, else https://api.coupontools.com).",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks and log every request (DEBUG) to stderr, and the HTTP "
            "backend in use (aiohttp or httpx).",
        ),
    ] = False,
) -> None:
    """Global options."""
    if sandbox and base_url:
        raise typer.BadParameter("use --sandbox or --base-url, not both")
    ctx.obj = _Options(sandbox=sandbox, base_url=base_url, debug=debug)
    if debug:
        _setup_debug_logging()


app.command("demo")(demo)
for _module, _name in (
    (_wallet_users, "wallet-users"),
    (_wallet_cards, "wallet-cards"),
    (_coupons, "coupons"),
    (_sessions, "sessions"),
    (_webhooks, "webhooks"),
    (_sandbox_serve, "sandbox"),
):
    app.add_typer(_module.group, name=_name)
_use_readable_commands(app)


def _usage_error(exc: Any) -> int:
    """A usage error as one line on stderr (typer draws a box of 4-5 lines)."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group alone: its help
        help_text = exc.format_message()  # empty when rich has already drawn it
        if help_text.strip():
            print(help_text, file=sys.stderr)
        return EXIT_USAGE
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    _error(_one_line(exc.format_message()) + hint)
    return int(getattr(exc, "exit_code", EXIT_USAGE))


def run(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    from typer.main import get_command

    args = sys.argv[1:] if argv is None else argv
    command = get_command(app)
    # Not standalone: usage errors and a closed pipe come here, to be told as we do.
    # ClickException lives in click, or in typer._click for typers that vendor click.
    click_error: type[Exception] = next(
        cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
    )
    try:
        code = command.main(args=args, prog_name="coupontools", standalone_mode=False)
    except click_error as exc:
        return _usage_error(exc)
    except typer.Abort:
        _error("aborted")
        return EXIT_FAILED
    except BrokenPipeError:
        return _reader_left()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            _error(exc.code)
            return EXIT_FAILED
        return int(exc.code or 0)
    except Exception as exc:  # pragma: no cover - commands report their own errors
        debug = "--debug" in args
        if debug:
            _print_traceback(exc)
        code, message = _describe(_leaf(exc), debug)
        _error(message)
        return code
    try:
        sys.stdout.flush()  # a closed pipe shows here when the last write was buffered
    except BrokenPipeError:
        return _reader_left()
    return code if isinstance(code, int) else 0
