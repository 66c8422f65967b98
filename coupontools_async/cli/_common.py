"""What every command stands on: exit codes, the global options, one-line errors, and
:func:`call`, the "open a client, run, map errors to exit codes" skeleton."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import anyio
import attrs
import typer

from .._redact import printable, scrub
from ..errors import CoupontoolsError, ValidationError

if TYPE_CHECKING:
    from .._client import AsyncClient

T = TypeVar("T")

EXIT_FAILED = 1
"""The API refused something, or rows failed."""
EXIT_USAGE = 2
"""Bad arguments or configuration (missing credentials, bad option values)."""
EXIT_INTERRUPTED = 130

MAX_CONCURRENCY = 64
"""``bulk.MAX_CONCURRENCY``, written here so that ``--help`` need not import the importer
(a test holds the two equal)."""
ENV_CLIENT_ID = "COUPONTOOLS_CLIENT_ID"
ENV_CLIENT_SECRET = "COUPONTOOLS_CLIENT_SECRET"
"""The client's variables (a test holds them equal to ``_client``'s), for the same reason."""


class ExportFormat(str, Enum):
    """File formats of the exports."""

    csv = "csv"
    jsonl = "jsonl"


# The two options every export takes, written once.
FormatOption = Annotated[ExportFormat, typer.Option("--format", help="File format.")]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", dir_okay=False, help="File to write (default: stdout)."),
]


class SessionStateChoice(str, Enum):
    """Which sessions ``sessions export`` lists."""

    all = "all"
    opened = "opened"
    claimed = "claimed"
    validated = "validated"


class UsageError(Exception):
    """A usage or configuration problem of the command line (exit code 2)."""


@attrs.define
class _Options:
    """The global options."""

    sandbox: bool = False
    base_url: str | None = None
    debug: bool = False


def options(ctx: typer.Context) -> _Options:
    """The global options of this command line."""
    obj = ctx.find_object(_Options)
    return obj if obj is not None else _Options()


# --------------------------------------------------------------------------- errors


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from task groups."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not inner:
            return exc
        exc = inner[0]


def _describe(exc: BaseException, debug: bool) -> tuple[int, str]:
    """Exit code and one-line message for an error."""
    if isinstance(exc, (UsageError, ValidationError)):
        return EXIT_USAGE, _one_line(str(exc))
    if isinstance(exc, CoupontoolsError):
        return EXIT_FAILED, _one_line(str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return EXIT_FAILED, _one_line(f"{exc.strerror}{where}")
    text = _one_line(f"{type(exc).__name__}: {exc}")
    return EXIT_FAILED, text if debug else f"{text} (run with --debug for the traceback)"


def _error(message: str) -> None:
    # Server and payload text reach the terminal here: scrubbed, control sequences escaped.
    print(f"error: {printable(scrub(message), newlines=False)}", file=sys.stderr, flush=True)


def _print_traceback(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write(printable(scrub(text)))
    sys.stderr.flush()


@contextmanager
def _guard(opts: _Options, *, interrupted: str | None = None) -> Iterator[None]:
    """Turn errors into one line on stderr and an exit code (with --debug, a traceback too)."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        _error("interrupted" + (f"; {interrupted}" if interrupted else ""))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if isinstance(_leaf(exc), BrokenPipeError):  # `... | head`: the reader left
            raise typer.Exit(_reader_left()) from None
        if opts.debug:
            _print_traceback(exc)
        code, message = _describe(_leaf(exc), opts.debug)
        _error(message)
        raise typer.Exit(code) from None


def _run(opts: _Options, fn: Callable[[], Awaitable[T]], *, interrupted: str | None = None) -> T:
    """Run ``fn`` with ``anyio.run``, errors reported as one line."""
    with _guard(opts, interrupted=interrupted):
        return anyio.run(fn)
    raise AssertionError("unreachable")  # pragma: no cover - _guard raises or returns


class _Stderr:
    """Whatever ``sys.stderr`` is at the time (a live progress display redirects it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _setup_debug_logging() -> None:
    logger = logging.getLogger("coupontools_async")
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


# --------------------------------------------------------------------------- client


def _client(opts: _Options) -> AsyncClient:
    """The client the global options ask for."""
    if opts.sandbox:
        from ..sandbox import Sandbox

        return Sandbox.seeded(0).client()
    for variable, what in ((ENV_CLIENT_ID, "client id"), (ENV_CLIENT_SECRET, "client secret")):
        if not os.environ.get(variable):
            raise UsageError(
                f"{variable} is not set: export it with your API {what} "
                "(or try the command with --sandbox)"
            )
    from .._client import AsyncClient

    return AsyncClient(base_url=opts.base_url)


def call(
    opts: _Options,
    fn: Callable[[AsyncClient], Awaitable[T]],
    *,
    interrupted: str | None = None,
) -> T:
    """Open the client the global options ask for, run ``fn(client)`` in an event loop,
    and turn its errors into one line on stderr and an exit code."""

    async def work() -> T:
        async with _client(opts) as ct:
            return await fn(ct)

    return _run(opts, work, interrupted=interrupted)


def _reader_left() -> int:
    """``coupontools ... | head``: the reader has all it wanted. Exit 0 quietly, like
    other Unix tools, and send what is still buffered nowhere (not as an error at exit)."""
    with suppress(OSError, ValueError):  # ValueError: stdout is not a file (captured)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
