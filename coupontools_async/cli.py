"""The ``coupontools`` command (needs the ``cli`` extra: typer and rich).

::

    coupontools demo                                   # the whole job against a sandbox
    coupontools wallet-users import 12 users.csv            # journal: users.csv.journal
    coupontools wallet-users import 12 users.csv --resume   # after Ctrl-C or a crash
    coupontools wallet-users export 12 -o users.csv
    coupontools sessions export cam_12345 --state claimed --format jsonl > claimed.jsonl
    coupontools --sandbox coupons list --json

Tables go to stdout, progress bars to stderr (only on a terminal). Exit codes: 0 done,
1 the API refused something or rows failed, 2 a usage or configuration error. Errors
are one line; ``--debug`` adds the traceback and the client's DEBUG log.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import re
import socket
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TextIO, TypeVar

import anyio
import attrs

from ._client import ENV_CLIENT_ID, ENV_CLIENT_SECRET
from ._generated import models
from ._redact import printable, scrub
from ._validation import check_region
from .bulk import (
    MAX_CONCURRENCY,
    CsvRows,
    FailedRow,
    ImportProgress,
    ImportReport,
    Row,
    check_columns,
    read_rows,
    validate_wallet_row,
    wallet_columns,
)
from .errors import CoupontoolsError, ValidationError

try:
    import rich
    import typer
    from typer.core import TyperCommand, TyperGroup

    HAVE_TYPER = bool(rich)
except ImportError:  # without the cli extra: main() says what to install
    HAVE_TYPER = False

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table
    from rich.tree import Tree

    from ._client import AsyncClient
    from ._pagination import Page

__all__ = ["build_app", "main"]

T = TypeVar("T")

EXIT_FAILED = 1
"""The API refused something, or rows failed."""
EXIT_USAGE = 2
"""Bad arguments or configuration (missing credentials, bad option values)."""
EXIT_INTERRUPTED = 130

USER_FIELDS = tuple(f.name for f in attrs.fields(models.WalletUserInput))
"""The user fields a wallet import accepts, in the API's order (first_name ... custom_8)."""
USER_COLUMNS = (*USER_FIELDS, "id", "code", "stamps", "created_at", "voided_at", "download_url")
"""Columns of ``wallet-users export``: what import accepts first, then what the API sets."""
READ_ONLY_COLUMNS = frozenset(
    {"id", "code", "stamps", "created_at", "voided_at", "download_url", "rewards", "reason"}
)
"""Columns an import ignores: set by the API (an export's) or ours (a ``.failed.csv``'s)."""
SESSION_COLUMNS = (
    "session",
    "session_url",
    "sequenceid",
    "customid",
    *(f.name for f in attrs.fields(models.CouponSessionStatus)),
)
"""Columns of ``sessions export``: the session, then its status fields."""
SAMPLE_USERS = "sample_users.csv"
DEMO_PUSH = "Double stamps this weekend!"


class ExportFormat(str, Enum):
    """File formats of the exports."""

    csv = "csv"
    jsonl = "jsonl"


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


# ------------------------------------------------------------------------ help texts

if HAVE_TYPER:

    def _readable(params: list[Any]) -> list[Any]:
        for param in params:
            if getattr(param, "is_flag", False) and not getattr(param, "count", False):
                param.metavar = ""  # a flag takes no value: no "<bool>" label
        return params

    def _usage(command: Any, ctx: Any) -> list[str]:
        """``[OPTIONS] CARD FILE``: argument names as given, ``[X]`` when optional."""
        pieces = [command.options_metavar] if command.options_metavar else []
        for param in command.get_params(ctx):
            if param.param_type_name != "argument":
                continue
            name = param.metavar or param.name.upper()
            name = name if param.required else f"[{name}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces

    class _Command(TyperCommand):
        """A command whose help has no ``<bool>`` on flags and no ``{CARD}`` in usage."""

        def get_params(self, ctx: Any) -> list[Any]:
            return _readable(super().get_params(ctx))

        def collect_usage_pieces(self, ctx: Any) -> list[str]:
            return _usage(self, ctx)

    class _Group(TyperGroup):
        """A group whose help has no ``<bool>`` on flags."""

        def get_params(self, ctx: Any) -> list[Any]:
            return _readable(super().get_params(ctx))

    def _group(help: str) -> typer.Typer:
        return typer.Typer(cls=_Group, help=help, no_args_is_help=True)

    def _use_readable_commands(app: typer.Typer) -> None:
        """Every command of ``app`` and its groups gets :class:`_Command`'s help."""
        for info in app.registered_commands:
            if info.cls is None or info.cls is TyperCommand:  # not one chosen on purpose
                info.cls = _Command
        for group in app.registered_groups:
            if group.typer_instance is not None:
                _use_readable_commands(group.typer_instance)


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
        from .sandbox import Sandbox

        return Sandbox.seeded(0).client()
    for variable, what in ((ENV_CLIENT_ID, "client id"), (ENV_CLIENT_SECRET, "client secret")):
        if not os.environ.get(variable):
            raise UsageError(
                f"{variable} is not set: export it with your API {what} "
                "(or try the command with --sandbox)"
            )
    from ._client import AsyncClient

    return AsyncClient(base_url=opts.base_url)


# --------------------------------------------------------------------------- output


def _stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _text(value: Any) -> str:
    """A value as a table cell or CSV field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _print_json(value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)
    # JSON escapes C0 controls itself, not DEL and the C1 range (0x9b is a CSI).
    sys.stdout.write(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


_C1 = re.compile("[\x7f-\x9f]")


def _table(title: str | None, columns: Sequence[str]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _add_row(table: Table, values: Sequence[Any]) -> None:
    from rich.text import Text

    table.add_row(*(Text(printable(_text(v))) for v in values))


def _print_pairs(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    """A heading line, then a table of name/value rows."""
    from rich.text import Text

    table = _table(None, ["", ""])
    table.show_header = False
    for name, value in rows:
        _add_row(table, [name, value])
    console = _stdout()
    console.print(Text(title, style="bold"))
    console.print(table)


def _tree(value: Any, label: str) -> Tree:
    """A model as a tree of its set fields (None left out), nested models as branches."""
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(Text(printable(label), style="bold"))
    _branches(tree, value)
    return tree


def _branches(tree: Tree, value: Any) -> None:
    from rich.text import Text

    if attrs.has(type(value)):
        items: list[tuple[str, Any]] = [
            (f.name, getattr(value, f.name)) for f in attrs.fields(type(value))
        ]
    elif isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    else:
        items = [(f"[{n}]", v) for n, v in enumerate(value)]
    for name, item in items:
        if item is None:
            continue
        if attrs.has(type(item)) or isinstance(item, (Mapping, list, tuple)):
            _branches(tree.add(Text(printable(name))), item)
        else:
            tree.add(Text(printable(f"{name}: {_text(item)}")))


def _print_models(items: Sequence[Any], columns: Sequence[str], *, title: str) -> None:
    table = _table(title, columns)
    for item in items:
        _add_row(table, [getattr(item, c, None) for c in columns])
    _stdout().print(table)


def _unstructure(value: Any) -> Any:
    from ._convert import unstructure

    return unstructure(value)


class _Writable(Protocol):
    def write(self, text: str, /) -> int: ...


class _Discard:
    """A text sink that keeps nothing."""

    def write(self, text: str, /) -> int:
        return len(text)


# A cell a spreadsheet would run as a formula (=HYPERLINK(...), +cmd|..., @SUM(...)),
# or whose leading tab or CR hides one. Numbers and phone numbers (+31 6 1234) are not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d[\d ().-]*")


def _csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a formula-like cell gets a leading ``'``.

    A cell that already starts with ``'`` before one gets another, so that
    :func:`_csv_uncell` gives back exactly what was exported.
    """
    if _formula_like(text) or (text.startswith("'") and _formula_like(text.lstrip("'"))):
        return "'" + text
    return text


def _csv_uncell(text: str) -> str:
    """What :func:`_csv_cell` neutralised, as it was (an export imports back as it is)."""
    if text.startswith("'") and _csv_cell(text[1:]) == text:
        return text[1:]
    return text


def _formula_like(text: str) -> bool:
    return text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text)


class _RecordWriter:
    """Writes records (dicts) as CSV with a header or as JSON lines."""

    def __init__(self, out: _Writable, fmt: ExportFormat, columns: Sequence[str]) -> None:
        self.out = out
        self.fmt = fmt
        self.columns = list(columns)
        self.count = 0
        self._csv = csv.writer(out, lineterminator="\n") if fmt is ExportFormat.csv else None
        self._quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        if self._csv is not None:
            self._csv.writerow(self.columns)

    def write(self, record: Mapping[str, Any]) -> None:
        if self._csv is not None:
            cells = [_csv_cell(_text(record.get(c))) for c in self.columns]
            # csv quotes a "\n" but not a lone "\r", which readers take for a row's end.
            writer = self._quoted if any("\r" in c for c in cells) else self._csv
            writer.writerow(cells)
        else:
            line = {c: record.get(c) for c in self.columns}
            self.out.write(json.dumps(line, ensure_ascii=False, default=_json_default) + "\n")
        self.count += 1


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file written beside the target then moved in place once complete."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    if not path.parent.is_dir():
        raise UsageError(f"no such directory: {path.parent}")
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            yield handle
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _user_record(user: models.WalletUser) -> dict[str, Any]:
    return {c: getattr(user, c, None) for c in USER_COLUMNS}


def _session_record(session: models.CouponSession) -> dict[str, Any]:
    record: dict[str, Any] = {
        "session": session.session,
        "session_url": session.session_url,
        "sequenceid": session.sequenceid,
        "customid": session.customid,
    }
    status = session.status
    for field in attrs.fields(models.CouponSessionStatus):
        record[field.name] = getattr(status, field.name, None) if status is not None else None
    return record


# -------------------------------------------------------------------------- progress


class _Activity:
    """A progress line on stderr: a bar with ETA when the total is known, else a counter.

    Rich draws nothing when stderr is not a terminal, but counting still works.
    """

    def __init__(self, description: str, *, total: int | None, unit: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        def whole() -> Column:  # numbers are never cut ("8710/200…" misreads as done)
            return Column(no_wrap=True)

        console = _stderr()
        # On a narrow terminal the file name and the bar give way, never the numbers:
        # they share what the fixed columns leave (the name twice the bar's share).
        columns: list[ProgressColumn | str] = [
            SpinnerColumn(),
            TextColumn(
                "{task.description}",
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=2, min_width=8),
            ),
        ]
        if total is not None:
            columns += [
                BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=5, max_width=40)),
                MofNCompleteColumn(table_column=whole()),
            ]
        else:
            columns.append(TextColumn("{task.completed:,.0f}", table_column=whole()))
        columns += [
            TextColumn(f"{unit} · {{task.fields[rate]:,.0f}} {unit}/s", table_column=whole()),
            TimeRemainingColumn(table_column=whole())
            if total is not None
            else TimeElapsedColumn(table_column=whole()),
            TextColumn("{task.fields[extra]}", table_column=whole()),
        ]
        self.unit = unit
        self.progress: Progress = Progress(
            *columns,
            console=console,
            disable=not console.is_terminal,
            transient=False,
            expand=True,
        )
        self.task: TaskID = self.progress.add_task(description, total=total, rate=0.0, extra="")
        self.started = time.monotonic()
        self.done = 0

    def __enter__(self) -> _Activity:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            # The row count was an estimate (blank lines, quoted newlines): end full.
            self.progress.update(self.task, total=self.done, completed=self.done)
        self.progress.stop()

    def set(self, done: int, *, rate: float | None = None, extra: str = "") -> None:
        """Show ``done`` items finished."""
        self.done = done
        if rate is None:
            elapsed = time.monotonic() - self.started
            rate = done / elapsed if elapsed > 0 else 0.0
        self.progress.update(self.task, completed=done, rate=rate, extra=extra)

    def advance(self, count: int) -> None:
        """Add ``count`` items finished."""
        self.set(self.done + count)

    def on_import(self, progress: ImportProgress) -> None:
        """The ``on_progress`` hook of an import."""
        self.set(progress.done, rate=progress.rate, extra=_failed_note(progress.failed))


def _failed_note(failed: int) -> str:
    return f"[red]{failed:,} failed[/]" if failed else ""


def _count_rows(path: Path) -> int:
    """Data rows of a CSV (lines minus the header) or JSON Lines file, counted cheaply."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - (0 if _is_jsonl(path) else 1))


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


# ---------------------------------------------------------------------------- import


def _import_rows(
    path: Path, encoding: str = "utf-8-sig", delimiter: str | None = None
) -> Iterator[Row]:
    """The file's rows without the columns the API sets (an export re-imports as it is)."""
    csv_file = not _is_jsonl(path)
    for row in read_rows(path, encoding=encoding, delimiter=delimiter):
        data = {
            k: _csv_uncell(v) if csv_file and isinstance(v, str) else v
            for k, v in row.data.items()
            if k not in READ_ONLY_COLUMNS and v not in (None, "")
        }
        changed = len(data) != len(row.data) or any(data[k] != row.data[k] for k in data)
        yield Row(row.line, data) if changed else row


def _validate_row(row: Row, default_region: str | None = None) -> None:
    """Check one row as the import would, before sending (raises ValidationError)."""
    validate_wallet_row(row, default_region=default_region)


def _check_header(path: Path, encoding: str, delimiter: str | None) -> None:
    """One error before anything is sent when a CSV column is not a field the card takes."""
    if _is_jsonl(path):
        return
    try:
        columns = CsvRows(path, encoding=encoding, delimiter=delimiter).columns
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} (try utf-8 or cp1252)") from None
    check_columns(columns, wallet_columns(), ignored=READ_ONLY_COLUMNS)


def _dry_run(
    path: Path,
    activity: _Activity,
    encoding: str = "utf-8-sig",
    delimiter: str | None = None,
    default_region: str | None = None,
) -> ImportReport:
    report = ImportReport()
    started = time.monotonic()
    for row in _import_rows(path, encoding, delimiter):
        try:
            _validate_row(row, default_region)
        except ValidationError as exc:
            report.failed.append(FailedRow(row.line, str(exc), row.data))
        else:
            report.created += 1
        if report.total % 500 == 0:
            activity.set(report.total, extra=_failed_note(len(report.failed)))
    activity.set(report.total, extra=_failed_note(len(report.failed)))
    report.elapsed = time.monotonic() - started
    return report


def _failed_path(path: Path) -> Path:
    """Where the failed rows of an import of ``path`` go: ``FILE.failed.csv`` (``.jsonl``)."""
    return path.with_name(path.name + (".failed.jsonl" if _is_jsonl(path) else ".failed.csv"))


def _write_failures(
    path: Path,
    failed: Sequence[FailedRow],
    encoding: str = "utf-8-sig",
    delimiter: str | None = None,
) -> Path:
    """Copy the failed rows, as they are in ``path``, with their reason, next to it.

    A CSV keeps the input's encoding and delimiter, and bytes that encoding cannot read
    are copied as they were: the file re-imports with the same options once fixed.
    """
    target = _failed_path(path)
    reasons = {f.line: f.reason for f in failed}
    partial = target.with_name(target.name + ".partial")
    csv_encoding = "utf-8" if encoding.replace("_", "-").lower() == "utf-8-sig" else encoding
    try:
        with open(
            partial,
            "w",
            newline="",
            encoding="utf-8" if _is_jsonl(path) else csv_encoding,
            errors="strict" if _is_jsonl(path) else "surrogateescape",
        ) as out:
            if _is_jsonl(path):
                _copy_failed_jsonl(path, reasons, out)
            else:
                rows = CsvRows(path, encoding=encoding, delimiter=delimiter)
                _copy_failed_csv(path, reasons, out, encoding, rows.delimiter)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _copy_failed_csv(
    path: Path,
    reasons: dict[int, str],
    out: TextIO,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
) -> None:
    writer = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    # A record refused for a field over csv's limit is copied whole, to be fixed there.
    limit = csv.field_size_limit(sys.maxsize)
    try:
        _copy_csv_records(path, reasons, writer, encoding, delimiter)
    finally:
        csv.field_size_limit(limit)


def _copy_csv_records(
    path: Path, reasons: dict[int, str], writer: Any, encoding: str, delimiter: str
) -> None:
    with open(path, newline="", encoding=encoding, errors="surrogateescape") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, [])
        names = [name.strip() for name in header]
        reason_at = names.index("reason") if "reason" in names else None
        writer.writerow(header if reason_at is not None else [*header, "reason"])
        for values in reader:
            reason = reasons.get(reader.line_num)
            if reason is None:
                continue
            values = (values + [""] * len(header))[: len(header)]
            if reason_at is not None:
                values[reason_at] = reason
            else:
                values.append(reason)
            writer.writerow(values)


def _copy_failed_jsonl(path: Path, reasons: dict[int, str], out: TextIO) -> None:
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            reason = reasons.get(number)
            if reason is None:
                continue
            try:
                value: Any = json.loads(text)
            except ValueError:
                value = None
            record = dict(value) if isinstance(value, dict) else {"raw": text.rstrip("\r\n")}
            record["reason"] = reason
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _print_import_summary(
    title: str, report: ImportReport, failures: Path | None, *, dry_run: bool
) -> None:
    rate = report.total / report.elapsed if report.elapsed > 0 else 0.0
    failed = f"{len(report.failed):,}" + (f"  → {failures}" if failures else "")
    rows: list[tuple[str, Any]] = [("valid" if dry_run else "created", f"{report.created:,}")]
    if not dry_run:
        rows.append(("skipped", f"{report.skipped:,}"))
    rows += [
        ("would fail" if dry_run else "failed", failed),
        ("rows", f"{report.total:,}"),
        ("time", f"{report.elapsed:.1f} s ({rate:,.0f} rows/s)"),
    ]
    _print_pairs(title, rows)
    console = _stdout()
    if report.failed:
        shown = sorted(report.failed, key=lambda f: f.line)[:10]
        listing = _table(None, ["line", "reason"])
        for failure in shown:
            _add_row(listing, [failure.line, failure.reason])
        console.print(listing)
        if len(report.failed) > len(shown):
            console.print(
                f"... and {len(report.failed) - len(shown):,} more in {failures}", markup=False
            )


def _journal_for(file: Path, journal: Path | None, *, resume: bool, restart: bool) -> Path:
    """The journal of this import (``FILE.journal`` unless given), checked against the flags.

    Every import writes one, so ``--resume`` after Ctrl-C or a crash always finds it; an
    existing one is continued or replaced only when asked to.
    """
    path = journal if journal is not None else file.with_name(file.name + ".journal")
    given = "" if journal is None else f" --journal {journal}"
    if resume and restart:
        raise UsageError("--resume continues the journal and --restart discards it: pick one")
    if restart:
        for extra in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + extra).unlink(missing_ok=True)
        return path
    if resume:
        if not path.exists():
            raise UsageError(
                f"no journal at {path}: nothing to resume. If the import used --journal, "
                "pass the same --journal; to import from the first row, use --restart"
            )
        return path
    if path.exists() and path.stat().st_size > 0:
        raise UsageError(
            f"the journal {path} of an earlier import of this file exists: add --resume"
            f"{given} to continue it (rows done are skipped), or --restart to discard it "
            "and send every row again"
        )
    return path


# ---------------------------------------------------------------------------- export


async def _export(
    pages: AsyncIterator[Page[Any]],
    path: Path | None,
    *,
    fmt: ExportFormat,
    columns: Sequence[str],
    record: Callable[[Any], Mapping[str, Any]],
    what: str,
    sink: _Writable | None = None,
) -> int:
    """Write every item of every page; the output opens once the first page is in.

    So an error on the first call (unknown card or campaign) leaves no file and prints
    nothing on stdout.
    """
    with _Activity(f"exporting {what}", total=None, unit=what) as activity:
        page = await _next_page(pages)
        with ExitStack() as stack:
            out = sink if sink is not None else stack.enter_context(_output(path))
            writer = _RecordWriter(out, fmt, columns)
            while page is not None:
                for item in page.items:
                    writer.write(record(item))
                activity.advance(len(page.items))
                page = await _next_page(pages)
            return writer.count


async def _next_page(pages: AsyncIterator[Page[Any]]) -> Page[Any] | None:
    try:
        return await pages.__anext__()
    except StopAsyncIteration:
        return None


def _sandbox_note(opts: _Options) -> None:
    if opts.sandbox:
        _stderr().print("note: --sandbox: this change is gone when the command ends", markup=False)


def _export_note(count: int, what: str, path: Path | None) -> None:
    where = f" to {path}" if path is not None else ""
    _stderr().print(f"exported {count:,} {what}{where}", markup=False)


# ------------------------------------------------------------------------------ demo


@attrs.frozen
class _DemoResult:
    card: models.WalletCard
    source: models.WalletCard
    report: ImportReport
    stamps: int
    stamped_users: int
    reward: models.WalletReward
    rewarded: models.WalletUser
    pushed: int
    exported: int
    elapsed: float


async def _demo(output: Path | None) -> _DemoResult:
    from importlib.resources import as_file, files

    from .sandbox import Sandbox

    started = time.monotonic()
    sandbox = Sandbox.seeded(0, sessions=100)
    per_reward = sandbox.state.config.stamps_per_reward
    async with sandbox.client() as ct:
        source = (await ct.wallet_cards.list())[0]
        card = await ct.wallet_cards.copy(source.id, name=f"Demo: {source.name}")

        sample = files("coupontools_async") / "data" / SAMPLE_USERS
        with as_file(sample) as path:
            total = _count_rows(path)
            with _Activity(f"importing {SAMPLE_USERS}", total=total, unit="rows") as a:
                report = await ct.wallet_users.import_users(
                    card.id, _import_rows(path), on_progress=a.on_import
                )

        # A few visits: 1 to 5 stamps each for the first 25 users.
        users = await ct.wallet_users.list(card.id, per_page=25)
        stamps = 0
        for number, user in enumerate(users):
            amount = 1 + number % 5
            await ct.wallet_users.add_stamps(card.id, user.id, amount=amount)
            stamps += amount
        # The first one comes back often enough to earn a reward, and uses it.
        lucky = await ct.wallet_users.get(card.id, users[0].id)
        missing = per_reward - (lucky.stamps or 0) % per_reward
        lucky = await ct.wallet_users.add_stamps(card.id, lucky.id, amount=missing)
        stamps += missing
        reward = next(r for r in lucky.rewards or [] if r.used_at is None)
        lucky = await ct.wallet_users.use_rewards(card.id, lucky.id, reward_ids=[reward.id])
        reward = next(r for r in lucky.rewards or [] if r.id == reward.id)

        push = await ct.wallet_cards.push(card.id, message=DEMO_PUSH)

        exported = await _export(
            ct.wallet_users.iter(card.id).pages(),
            output,
            fmt=ExportFormat.csv,
            columns=USER_COLUMNS,
            record=_user_record,
            what="users",
            sink=_Discard() if output is None else None,
        )

    return _DemoResult(
        card=card,
        source=source,
        report=report,
        stamps=stamps,
        stamped_users=len(users),
        reward=reward,
        rewarded=lucky,
        pushed=push.total_recipients or 0,
        exported=exported,
        elapsed=time.monotonic() - started,
    )


def _print_demo(result: _DemoResult, output: Path | None) -> None:
    report = result.report
    rate = report.total / report.elapsed if report.elapsed > 0 else 0.0
    name = f"{result.rewarded.first_name or ''} {result.rewarded.last_name or ''}".strip()
    card = f"{result.card.name} (id {result.card.id}, copied from card {result.source.id})"
    imported = f"{report.created:,} users from {SAMPLE_USERS}, {len(report.failed)} failed"
    reward = f"{result.reward.name!r} earned and used by {name} (user {result.rewarded.id})"
    where = f" to {output}" if output else " (CSV, discarded; keep it with -o FILE)"
    _print_pairs(
        "coupontools demo: a seeded sandbox, in process (no account, no network)",
        [
            ("card", card),
            ("imported", f"{imported} ({rate:,.0f} rows/s)"),
            ("stamps", f"{result.stamps} stamps added to {result.stamped_users} users"),
            ("reward", reward),
            ("push", f"{DEMO_PUSH!r} sent to {result.pushed:,} users"),
            ("exported", f"{result.exported:,} users{where}"),
            ("time", f"{result.elapsed:.1f} s"),
        ],
    )
    console = _stdout()
    console.print(
        "Same job on your account: set COUPONTOOLS_CLIENT_ID and COUPONTOOLS_CLIENT_SECRET, then "
        "`coupontools wallet-users import CARD users.csv`."
    )


# ------------------------------------------------------------------------------- app


def build_app() -> typer.Typer:
    """The typer application (built on demand so the library imports without typer)."""
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

    def options(ctx: typer.Context) -> _Options:
        obj = ctx.find_object(_Options)
        return obj if obj is not None else _Options()

    # ------------------------------------------------------------------ demo

    @app.command("demo")
    def demo(
        ctx: typer.Context,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", dir_okay=False, help="Keep the exported CSV here."),
        ] = None,
    ) -> None:
        """Import, stamp, reward, push and export against an in-process sandbox, in seconds.

        Imports a bundled CSV of 3,000 users into a new card with a progress bar, adds
        stamps, earns and uses a reward, sends a push, exports the card and prints a
        summary. Needs no account and no network.
        """
        opts = options(ctx)
        result = _run(opts, lambda: _demo(output))
        _print_demo(result, output)
        if result.report.failed:
            raise typer.Exit(EXIT_FAILED)

    # ---------------------------------------------------------- wallet users

    wallet_users = _group("Users of wallet (v4) loyalty cards.")
    app.add_typer(wallet_users, name="wallet-users")

    @wallet_users.command("import")
    def wallet_users_import(
        ctx: typer.Context,
        card: Annotated[int, typer.Argument(min=1, metavar="CARD", help="Id of the wallet card.")],
        file: Annotated[
            Path,
            typer.Argument(
                metavar="FILE",
                exists=True,
                dir_okay=False,
                readable=True,
                help="CSV with a header line (or .jsonl) of user fields: first_name, last_name, "
                "address, zip, city, phone (E.164, or national with --default-region), email, "
                "custom_1..custom_8. Columns of an "
                "export (id, code, stamps, ...) and `reason` are ignored.",
            ),
        ],
        concurrency: Annotated[
            int,
            typer.Option(min=1, max=MAX_CONCURRENCY, help="Requests in flight at most (1-64)."),
        ] = 8,
        batch_size: Annotated[int, typer.Option(min=1, help="Users per bulk request.")] = 100,
        journal: Annotated[
            Path | None,
            typer.Option(
                dir_okay=False,
                help="Where to record every outcome (default FILE.journal), to resume after "
                "a crash or Ctrl-C.",
            ),
        ] = None,
        resume: Annotated[
            bool,
            typer.Option(
                "--resume",
                help="Continue from the journal (FILE.journal, or --journal): rows done are "
                "skipped, rows in flight are checked on the server.",
            ),
        ] = False,
        restart: Annotated[
            bool,
            typer.Option(
                "--restart",
                help="Discard an existing journal and send every row again.",
            ),
        ] = False,
        encoding: Annotated[
            str,
            typer.Option(help="Text encoding of the file (cp1252 for many Excel exports)."),
        ] = "utf-8-sig",
        delimiter: Annotated[
            str | None,
            typer.Option(help="CSV delimiter (default: the one the header line uses)."),
        ] = None,
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run",
                help="Check every row locally and report what would fail; send nothing.",
            ),
        ] = False,
        default_region: Annotated[
            str | None,
            typer.Option(
                metavar="REGION",
                help="Country of national phone numbers (BE: 0470 12 34 56 is +32470123456); "
                "needs the phone extra.",
            ),
        ] = None,
    ) -> None:
        """Import users into a wallet card: batched, concurrent, exactly once, resumable.

        Failed rows are written to FILE.failed.csv (the input's columns plus `reason`):
        fix them and import that file. Exit code 1 when any row failed.
        """
        opts = options(ctx)
        with _guard(opts):
            _check_header(file, encoding, delimiter)
            journal_path = (
                None if dry_run else _journal_for(file, journal, resume=resume, restart=restart)
            )
            region = None if default_region is None else check_region(default_region)
            total = _count_rows(file)

        stopped: list[ImportReport] = []

        async def work() -> ImportReport:
            with _Activity(f"importing {file.name}", total=total, unit="rows") as activity:
                if dry_run:
                    return _dry_run(file, activity, encoding, delimiter, region)
                async with _client(opts) as ct:
                    try:
                        return await ct.wallet_users.import_users(
                            card,
                            _import_rows(file, encoding, delimiter),
                            concurrency=concurrency,
                            batch_size=batch_size,
                            journal=journal_path,
                            on_progress=activity.on_import,
                            default_region=region,
                        )
                    except CoupontoolsError as exc:
                        partial = getattr(exc, "report", None)
                        if isinstance(partial, ImportReport):
                            stopped.append(partial)  # what was done, and what was not
                        raise

        if journal_path is None:
            hint = None
        elif resume:
            hint = "run the same command again to continue"
        else:
            hint = "add --resume to the same command to continue"
        try:
            report = _run(opts, work, interrupted=hint)
        except typer.Exit:
            if stopped:  # the import stopped on an error: say which rows were not done
                not_done = _write_failures(file, stopped[0].failed, encoding, delimiter)
                _print_import_summary(
                    f"Import of {file.name} into card {card} (stopped)",
                    stopped[0],
                    not_done,
                    dry_run=False,
                )
                _stderr().print(f"the import stopped; {hint}: rows done are skipped", markup=False)
            raise
        if not dry_run:
            _sandbox_note(opts)
        failures: Path | None = None
        with _guard(opts):
            if report.failed:
                failures = _write_failures(file, report.failed, encoding, delimiter)
            else:
                _failed_path(file).unlink(missing_ok=True)  # from an earlier run: now stale
        title = (
            f"{'Dry run of the import' if dry_run else 'Import'} of {file.name} into card {card}"
        )
        _print_import_summary(title, report, failures, dry_run=dry_run)
        if report.failed:
            raise typer.Exit(EXIT_FAILED)

    @wallet_users.command("export")
    def wallet_users_export(
        ctx: typer.Context,
        card: Annotated[int, typer.Argument(min=1, metavar="CARD", help="Id of the wallet card.")],
        fmt: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = (
            ExportFormat.csv
        ),
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", dir_okay=False, help="File to write (default: stdout)."),
        ] = None,
        include_voided: Annotated[
            bool, typer.Option("--include-voided", help="Also export users whose card was voided.")
        ] = False,
    ) -> None:
        """Export every user of a wallet card, streaming page by page.

        CSV columns: first_name, last_name, address, zip, city, phone, email,
        custom_1..custom_8 (what import accepts), then id, code, stamps, created_at,
        voided_at, download_url. The file imports back as it is.
        """
        opts = options(ctx)

        async def work() -> int:
            async with _client(opts) as ct:
                return await _export(
                    ct.wallet_users.iter(card, include_voided=include_voided).pages(),
                    output,
                    fmt=fmt,
                    columns=USER_COLUMNS,
                    record=_user_record,
                    what="users",
                )

        count = _run(opts, work)
        _export_note(count, "users", output)

    # ---------------------------------------------------------- wallet cards

    wallet_cards = _group("Wallet (v4) loyalty cards.")
    app.add_typer(wallet_cards, name="wallet-cards")

    @wallet_cards.command("list")
    def wallet_cards_list(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """List the wallet cards of the account."""
        opts = options(ctx)

        async def work() -> list[models.WalletCard]:
            async with _client(opts) as ct:
                return await ct.wallet_cards.list()

        cards = _run(opts, work)
        if as_json:
            _print_json(_unstructure(cards))
        else:
            _print_models(cards, ["id", "code", "name", "type", "domain"], title="Wallet cards")

    @wallet_cards.command("copy")
    def wallet_cards_copy(
        ctx: typer.Context,
        card: Annotated[
            int, typer.Argument(min=1, metavar="CARD", help="Id of the wallet card to copy.")
        ],
        name: Annotated[
            str | None, typer.Option(help="Name of the new card (max. 50 characters).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the new card as JSON.")] = (
            False
        ),
    ) -> None:
        """Copy a wallet card (settings, no users) and print the new card's id."""
        opts = options(ctx)

        async def work() -> models.WalletCard:
            async with _client(opts) as ct:
                return await ct.wallet_cards.copy(card, name=name)

        copy = _run(opts, work)
        _sandbox_note(opts)
        if as_json:
            _print_json(_unstructure(copy))
        else:
            print(copy.id)

    # --------------------------------------------------------------- coupons

    coupons = _group("Coupons (v3 campaigns).")
    app.add_typer(coupons, name="coupons")

    @coupons.command("list")
    def coupons_list(
        ctx: typer.Context,
        only_active: Annotated[
            bool, typer.Option("--only-active", help="Only the active coupons.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """List the coupons of the account."""
        opts = options(ctx)

        async def work() -> list[models.Coupon]:
            async with _client(opts) as ct:
                found = await ct.coupons.list(only_active=only_active or None)
                return list(found.coupon_info or [])

        items = _run(opts, work)
        if as_json:
            _print_json(_unstructure(items))
        else:
            _print_models(items, ["id", "name", "title", "status", "url"], title="Coupons")

    # -------------------------------------------------------------- sessions

    sessions = _group("Coupon sessions (v3).")
    app.add_typer(sessions, name="sessions")

    @sessions.command("export")
    def sessions_export(
        ctx: typer.Context,
        campaign: Annotated[str, typer.Argument(metavar="CAMPAIGN", help="Coupon id (cam_...).")],
        state: Annotated[
            SessionStateChoice, typer.Option(help="Which sessions: all, or by what happened.")
        ] = SessionStateChoice.all,
        start_date: Annotated[
            str | None, typer.Option(help="From this UTC date (YYYY-MM-DD or YYYY-MM-DD HH:MM).")
        ] = None,
        end_date: Annotated[
            str | None, typer.Option(help="Up to this UTC date (YYYY-MM-DD or YYYY-MM-DD HH:MM).")
        ] = None,
        fmt: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = (
            ExportFormat.csv
        ),
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", dir_okay=False, help="File to write (default: stdout)."),
        ] = None,
    ) -> None:
        """Export a coupon's sessions, streaming page by page.

        Columns: session, session_url, sequenceid, customid, then the session's status
        (created_date_utc, opened, claimed, validated, ... in UTC).
        """
        opts = options(ctx)

        async def work() -> int:
            async with _client(opts) as ct:
                pages = ct.sessions.iter(
                    campaign=campaign,
                    state=state.value,
                    start_date=start_date,
                    end_date=end_date,
                ).pages()
                return await _export(
                    pages,
                    output,
                    fmt=fmt,
                    columns=SESSION_COLUMNS,
                    record=_session_record,
                    what="sessions",
                )

        count = _run(opts, work)
        _export_note(count, "sessions", output)

    # -------------------------------------------------------------- webhooks

    webhooks = _group("Webhook payloads and their verification.")
    app.add_typer(webhooks, name="webhooks")

    @webhooks.command("parse")
    def webhooks_parse(
        ctx: typer.Context,
        source: Annotated[
            str, typer.Argument(metavar="FILE|-", help="The webhook body: a file, or - for stdin.")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print the event as JSON.")] = False,
    ) -> None:
        """Parse a webhook body and print the typed event (exit 1 if it is not a webhook)."""
        opts = options(ctx)
        with _guard(opts):
            from .webhooks import UnknownEvent, parse

            if source != "-" and not Path(source).is_file():
                raise UsageError(f"no such file: {source}")
            body = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
            event = parse(body)
        if as_json:
            if isinstance(event, UnknownEvent):
                data: Any = {"id": event.id, "type": event.type, "data": event.data}
            else:
                data = _unstructure(event)
            _print_json(data)
            return
        _stdout().print(_tree(event, f"{type(event).__name__} {event.type} {event.id}"))

    @webhooks.command("verify")
    def webhooks_verify(
        ctx: typer.Context,
        event_id: Annotated[str, typer.Argument(metavar="EVT", help="Event id (evt_...).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Ask Coupontools about an event id: genuine events are known (exit 1 when not)."""
        opts = options(ctx)

        async def work() -> models.WebhookVerification:
            async with _client(opts) as ct:
                return await ct.webhooks.verify(webhook=event_id)

        verification = _run(opts, work)
        if as_json:
            _print_json(_unstructure(verification))
            return
        _print_pairs(
            f"Webhook {verification.webhook}: sent by Coupontools",
            [
                (f.name, getattr(verification, f.name))
                for f in attrs.fields(models.WebhookVerification)
            ],
        )

    # --------------------------------------------------------------- sandbox

    sandbox_app = _group("A local Coupontools for tests and demos.")
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.command("serve")
    def sandbox_serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
        seed: Annotated[int, typer.Option(help="Seed of the data and the faults.")] = 0,
        sessions: Annotated[int, typer.Option(help="Coupon sessions to seed.")] = 2000,
        empty: Annotated[
            bool, typer.Option("--empty", help="Start with an empty account.")
        ] = False,
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
            session_page_size=session_page_size,
        )

    _use_readable_commands(app)
    return app


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


def _missing_extra() -> int:
    print(
        "the coupontools command needs the cli extra: pip install 'coupontools-async[cli]'",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _reader_left() -> int:
    """``coupontools ... | head``: the reader has all it wanted. Exit 0 quietly, like
    other Unix tools, and send what is still buffered nowhere (not as an error at exit)."""
    with suppress(OSError, ValueError):  # ValueError: stdout is not a file (captured)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coupontools`` command."""
    if not HAVE_TYPER:
        return _missing_extra()
    from typer.main import get_command

    args = sys.argv[1:] if argv is None else argv
    command = get_command(build_app())
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


if __name__ == "__main__":
    sys.exit(main())
