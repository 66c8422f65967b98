"""Bulk imports of loyalty users: bounded concurrency, exactly once, resumable, reported.

::

    report = await ct.wallet_users.import_users(card_id, read_csv("users.csv"), journal="users.journal")
    print(report.created, report.skipped, len(report.failed))

What it promises:

- **Every row is accounted for**: each input row ends as created, skipped (done by an
  earlier run of the same journal) or failed with its line number and a true reason.
  Rows that break a documented rule (bad email, bad E.164 phone, over-long field) fail
  before anything is sent; a column the card cannot take is one error up front; an
  unreadable record (not valid text in the file's encoding, a field over the CSV limit)
  fails with its line. If the import stops (bad credentials, a 429 past the bounds),
  the rows it had read but not finished are reported as "not sent" or, when they were
  on the wire, as "unknown".
- **Nothing is duplicated**: the same ``key`` (email) twice in one import is sent once;
  the second row fails naming the first. After an *ambiguous* failure (a read timeout,
  a dropped connection, a 5xx on a create: the server may have acted) the importer
  *looks*: it asks the server, in parallel within the concurrency bound, which of the
  rows exist, and sends only the others again. A check that itself fails is retried;
  a row whose fate it still cannot see after the last round fails as "unknown" (and a
  resume checks it again), never as "not created".
- **Resumable**: with ``journal=PATH``, every outcome is written to a SQLite journal as
  it happens, keyed by the row's *content* (not its line), so a resume after a crash or
  Ctrl-C skips exactly the rows already done, even in an edited or reordered file; rows
  on the wire when the run died are checked against the server. A journal is for one
  target (API host and card) and one process at a time: another target's journal, a
  damaged one or a second concurrent run raise :class:`JournalError` naming the journal.
- **Bounded**: at most ``concurrency`` (≤ 64) requests at once, the input read as it is
  consumed, flat memory (the journal is on disk even without ``journal=``), a 429 pauses
  every worker together within the client's Retry-After cap and ``max_wait`` seconds of
  pauses in all (summed over requests); past either, :class:`~coupontools_async.RateLimitError`
  is raised.
- **Typed errors**: only :class:`~coupontools_async.CoupontoolsError` subclasses escape;
  one error stopping the import is raised as it is, several at once as one
  :class:`BulkImportError` holding them; either way the error's ``.report`` is the
  :class:`ImportReport` of what was done, with the rows not finished in ``failed``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from contextlib import aclosing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypedDict, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
import attrs

from ._convert import unstructure
from ._generated import OPERATIONS
from ._journal import DONE, Journal, JournalError, JournalLockedError, fingerprint
from ._transport import RetryEvent
from ._validation import _model_rules_by_name, check_region, prepare, prepare_item
from .errors import (
    APIConnectionError,
    APIError,
    CoupontoolsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._client import AsyncClient

__all__ = [
    "CANCEL_GRACE",
    "MAX_CONCURRENCY",
    "BulkImportError",
    "CsvRows",
    "FailedRow",
    "ImportProgress",
    "ImportReport",
    "JournalError",
    "JournalLockedError",
    "LoyaltyImportOptions",
    "Row",
    "WalletImportOptions",
    "check_columns",
    "import_loyalty_users",
    "import_wallet_users",
    "read_csv",
    "read_jsonl",
    "read_rows",
    "validate_wallet_row",
    "wallet_columns",
]

WALLET_MODEL = "WalletUserInput"
_AMBIGUOUS = (APIConnectionError, ServerError)
_MAX_ROUNDS = 8
MAX_CONCURRENCY = 64
"""The most requests an import keeps in flight (more only earns 429s)."""
DEFAULT_MAX_WAIT = 3600.0
"""Seconds of 429 pauses (summed over every request of the import) after which it stops."""
_DELIMITERS = (",", ";", "\t", "|")
T = TypeVar("T")
logger = logging.getLogger(__name__)
CANCEL_GRACE = 15.0
"""Seconds a v3 create already under way may still take after the import is cancelled:
its answer holds the only handle on the new user (v3 finds users only on a card, and the
user is not on one until it is linked), so it is waited for and journalled first."""


class BulkImportError(CoupontoolsError):
    """An import stopped by several errors at once: ``.exceptions`` holds them, ``.report``
    what was done until then (rows not finished are in ``report.failed``)."""

    def __init__(
        self, message: str, *, exceptions: list[BaseException], report: ImportReport
    ) -> None:
        super().__init__(message)
        self.exceptions = exceptions
        self.report = report


# ----------------------------------------------------------------------------- input


@attrs.frozen
class Row:
    """One input row: its line number in the source (or position) and its fields."""

    line: int
    data: dict[str, Any]


class CsvRows:
    """The rows of a CSV file with a header line, read as they are consumed (see :func:`read_csv`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        encoding: str = "utf-8-sig",
        delimiter: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.encoding = encoding
        self._delimiter = delimiter

    def _open(self) -> TextIO:
        # surrogateescape: a byte the encoding cannot read fails its own row, not the file.
        return open(self.path, newline="", encoding=self.encoding, errors="surrogateescape")

    @property
    def delimiter(self) -> str:
        """The delimiter given, or the one the header line uses most (``,`` ``;`` tab ``|``)."""
        if self._delimiter is None:
            with self._open() as handle:
                first = handle.readline()
            counts = {d: first.count(d) for d in _DELIMITERS}
            best = max(counts, key=lambda d: counts[d])
            self._delimiter = best if counts[best] else ","
        return self._delimiter

    @property
    def columns(self) -> list[str]:
        """The header's column names (stripped)."""
        with self._open() as handle:
            return self._header(csv.reader(handle, delimiter=self.delimiter))

    def _header(self, reader: Any) -> list[str]:
        try:
            header: list[str] = next(reader, [])
        except csv.Error as exc:
            raise ValidationError(
                f"{self.path}: the header line cannot be read ({exc})", param="file", rule="format"
            ) from None
        names = [name.strip() for name in header]
        for name in names:
            if _undecodable(name):
                raise ValidationError(
                    f"{self.path}: the header line is not {self.encoding} text "
                    "(for an Excel export, try encoding cp1252)",
                    param="file",
                    rule="encoding",
                )
        return names

    def __iter__(self) -> Iterator[Row]:
        with self._open() as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            names = self._header(reader)
            if not names:
                return
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield Row(reader.line_num, {"__invalid__": f"unreadable CSV record: {exc}"})
                    continue
                row = self._row(reader.line_num, names, values)
                if row is not None:
                    yield row

    def _row(self, line: int, names: list[str], values: list[str]) -> Row | None:
        if not any(v.strip() for v in values):
            return None
        if any(_undecodable(v) for v in values):
            return Row(
                line,
                {
                    "__invalid__": f"not {self.encoding} text (for an Excel export, "
                    "try encoding cp1252)"
                },
            )
        data: dict[str, Any] = {}
        if len(values) > len(names):
            data["__extra__"] = values[len(names) :]
        for name, value in zip(names, values, strict=False):
            if value.strip() != "":
                data[name] = value.strip()
        return Row(line, data)


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def read_csv(
    path: str | os.PathLike[str], *, encoding: str = "utf-8-sig", delimiter: str | None = None
) -> CsvRows:
    """Stream the rows of a CSV file with a header line; empty cells are left out.

    Line numbers are the file's (the header is line 1), so a report points at the line
    to fix. The file is read as it is consumed, never whole. A UTF-8 BOM is dropped; the
    delimiter is the one the header uses (``,``, ``;``, tab or ``|``) unless given; a
    record that cannot be read (bytes that are not ``encoding`` text, a field over the
    csv module's size limit) becomes a row that fails with its line. Its ``columns``
    are checked by an import before any row is sent.
    """
    return CsvRows(path, encoding=encoding, delimiter=delimiter)


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[Row]:
    """Stream the objects of a JSON Lines file (one object per line; blank lines skipped).

    A line that is not a JSON object (or not UTF-8) becomes a row that fails with the reason.
    """
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            if _undecodable(text):
                yield Row(number, {"__invalid__": "not UTF-8 text"})
                continue
            try:
                value = json.loads(text)
            except ValueError as exc:
                yield Row(number, {"__invalid__": f"not JSON: {exc}"})
                continue
            if not isinstance(value, dict):
                yield Row(number, {"__invalid__": "not a JSON object"})
                continue
            yield Row(number, value)


def read_rows(
    path: str | os.PathLike[str], *, encoding: str = "utf-8-sig", delimiter: str | None = None
) -> Iterable[Row]:
    """:func:`read_jsonl` for ``.jsonl``/``.ndjson`` files, else :func:`read_csv`."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path)
    return read_csv(path, encoding=encoding, delimiter=delimiter)


def wallet_columns() -> frozenset[str]:
    """The columns a wallet (v4) import can take: the fields of a wallet user."""
    return frozenset(_model_rules_by_name(WALLET_MODEL).by_wire)


def check_columns(
    columns: Iterable[str], known: Iterable[str], *, ignored: Iterable[str] = ()
) -> None:
    """One ValidationError, before anything is sent, naming a column the target cannot take."""
    allowed = set(known) | set(ignored)
    unknown = [c for c in columns if c and c not in allowed]
    if unknown:
        raise ValidationError(
            f"column {unknown[0]!r} is not a field the card takes "
            f"(known: {', '.join(sorted(known))})",
            param=unknown[0],
            rule="unknown",
        )


async def _rows(source: Iterable[Any] | AsyncIterable[Any]) -> AsyncGenerator[Row, None]:
    if isinstance(source, AsyncIterable):
        number = 0
        async for item in source:
            number += 1
            yield _as_row(item, number)
    else:
        for number, item in enumerate(source, start=1):
            yield _as_row(item, number)


def check_readable(row: Row) -> dict[str, Any]:
    """The row's fields, or a ValidationError when the reader could not make sense of it
    (not JSON, not an object, not text, more values than the header has columns)."""
    data = row.data
    if "__invalid__" in data:
        raise ValidationError(str(data["__invalid__"]), param="row", rule="format")
    if "__extra__" in data:
        raise ValidationError(
            "more values than the header has columns", param="row", rule="unknown"
        )
    return data


def validate_wallet_row(row: Row, *, default_region: str | None = None) -> dict[str, Any]:
    """Check one row exactly as :func:`import_wallet_users` does before sending it.

    Returns the wire fields it would send; raises ValidationError naming the field.
    """
    return prepare_item(WALLET_MODEL, check_readable(row), default_region=default_region)


def _as_row(item: Any, number: int) -> Row:
    if isinstance(item, Row):
        return item
    if isinstance(item, dict):
        return Row(number, item)
    if attrs.has(type(item)):
        return Row(number, unstructure(item))
    return Row(
        number, {"__invalid__": f"a row must be a mapping or a model, got {type(item).__name__}"}
    )


# ---------------------------------------------------------------------------- report


@attrs.frozen
class FailedRow:
    """A row that was not imported, and why."""

    line: int
    reason: str
    data: dict[str, Any]


@attrs.define
class ImportReport:
    """What an import did: counts, and every failed row with its reason."""

    created: int = 0
    skipped: int = 0
    failed: list[FailedRow] = attrs.Factory(list)
    elapsed: float = 0.0

    @property
    def total(self) -> int:
        """Rows seen: created + skipped + failed."""
        return self.created + self.skipped + len(self.failed)

    @property
    def ok(self) -> bool:
        """True when no row failed."""
        return not self.failed


@attrs.frozen
class ImportProgress:
    """A snapshot for progress bars (``on_progress``)."""

    done: int
    created: int
    skipped: int
    failed: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Rows finished per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


ProgressHook = Callable[[ImportProgress], Any]


class LoyaltyImportOptions(TypedDict, total=False):
    """The keyword options of :func:`import_loyalty_users` (and ``loyalty_users.import_users``).

    ``concurrency`` (default 8, at most :data:`MAX_CONCURRENCY`), ``journal`` (a path:
    resumable, exactly once across runs), ``on_progress`` (called with an
    :class:`ImportProgress`), ``default_region`` (national phone numbers' country) and
    ``max_wait`` (seconds of 429 back-off before the import stops, default 3600).
    """

    concurrency: int
    journal: str | os.PathLike[str] | None
    on_progress: ProgressHook | None
    default_region: str | None
    max_wait: float


class WalletImportOptions(LoyaltyImportOptions, total=False):
    """The keyword options of :func:`import_wallet_users` (and ``wallet_users.import_users``).

    Those of :class:`LoyaltyImportOptions`, plus ``batch_size`` (rows per bulk request,
    default 100) and ``key`` (the field that identifies a user, default ``email``).
    """

    batch_size: int
    key: str


# ---------------------------------------------------------------------------- engine


@attrs.define(eq=False)
class _Pending:
    row: Row
    wire: dict[str, Any]
    fp: bytes
    ambiguous: bool = False
    """True when an earlier attempt may have created it: look before sending again."""
    sent: bool = False
    last_error: str = ""
    server_id: str | None = None
    """The id a create answered with (v3: created, not yet linked), from this run or the journal."""


class _Gate:
    """Pauses every worker together (a 429 seen by one holds all of them)."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]], clock: Callable[[], float]):
        self._until = 0.0
        self._sleep = sleep
        self._clock = clock

    def hold(self, seconds: float) -> None:
        self._until = max(self._until, self._clock() + seconds)

    async def wait(self) -> None:
        waited_for: float | None = None
        while True:
            until = self._until
            remaining = until - self._clock()
            # A fake clock may not move while we sleep: wait once per hold, not in a spin.
            if remaining <= 0 or until == waited_for:
                return
            waited_for = until
            await self._sleep(remaining)


def _target(client: AsyncClient, what: str) -> str:
    return f"{urlsplit(client.base_url).netloc or client.base_url}/{what}"


async def _put(writer: MemoryObjectSendStream[list[_Pending]], batch: list[_Pending]) -> None:
    """Hand a batch to the workers: at once while their buffer has room, else wait."""
    try:
        writer.send_nowait(batch)
    except anyio.WouldBlock:
        await writer.send(batch)


class _Importer:
    """Shared machinery of the wallet (batched) and v3 loyalty (per row) imports."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        target: str,
        concurrency: int,
        batch_size: int,
        journal: str | os.PathLike[str] | None,
        on_progress: ProgressHook | None,
        key: str,
        validate: Callable[[dict[str, Any]], dict[str, Any]],
        columns: frozenset[str],
        max_wait: float,
    ) -> None:
        _check_bound("concurrency", concurrency, MAX_CONCURRENCY)
        _check_bound("batch_size", batch_size, None)
        if not max_wait >= 0:
            raise ValidationError("max_wait must be 0 or more seconds", param="max_wait")
        policy = client.retry_policy
        self.policy = policy
        self.gate = _Gate(policy.sleep, policy.clock)
        self.client = client.with_options(on_retry=self._on_retry)
        # A semaphore that does not yield when free: the bound is all it is for.
        self.limiter = anyio.Semaphore(concurrency, fast_acquire=True)
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.journal = Journal(journal, target=target)
        self.on_progress = on_progress
        self.key = key
        self.validate = validate
        self.columns = columns
        self.max_wait = max_wait
        self.waited = 0.0
        self.grace_said = False
        self.report = ImportReport()
        self.started = time.monotonic()
        self._user_hook = client.on_retry
        self._open: dict[int, _Pending] = {}
        """Rows read and not finished, by id: reported if the import stops."""

    # ---- bookkeeping

    async def _on_retry(self, event: RetryEvent) -> None:
        if event.status_code == 429:
            self.gate.hold(event.delay)  # everybody waits, not just the one who was told
            self.waited += event.delay
        if self._user_hook is not None:
            result = self._user_hook(event)
            if isinstance(result, Awaitable):
                await result

    def finish(
        self, status: str, items: list[_Pending], *, reason: str | None = None, keep: bool = False
    ) -> None:
        """Record the outcome of these rows (in the journal unless ``keep``: left as sent)."""
        if not items:
            return
        if not keep:
            self.journal.mark([(p.fp, p.row.line) for p in items], status, reason=reason)
            self.journal.commit()
        for p in items:
            self._open.pop(id(p), None)
        if status == "created":
            self.report.created += len(items)
        elif status == "skipped":
            self.report.skipped += len(items)
        else:
            for p in items:
                self.report.failed.append(
                    FailedRow(p.row.line, reason or "failed", _public(p.row.data))
                )

    def fail_unread(self, row: Row, reason: str) -> None:
        self.report.failed.append(FailedRow(row.line, reason, _public(row.data)))
        self.progress()

    def progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(
                ImportProgress(
                    done=self.report.total,
                    created=self.report.created,
                    skipped=self.report.skipped,
                    failed=len(self.report.failed),
                    elapsed=time.monotonic() - self.started,
                )
            )

    # ---- driving

    async def run(
        self,
        rows: Iterable[Any] | AsyncIterable[Any],
        send: Callable[[list[_Pending]], Awaitable[None]],
    ) -> ImportReport:
        columns = getattr(rows, "columns", None)
        if isinstance(columns, list):
            check_columns(columns, self.columns)
        self.journal.open()
        writer, reader = anyio.create_memory_object_stream[list[_Pending]](self.concurrency)
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(self.concurrency):
                    tg.start_soon(self._worker, reader.clone(), send)
                reader.close()
                async with writer:
                    await self._produce(rows, writer)
        except Exception as exc:
            # A worker's death breaks the stream the producer writes to: that is no cause.
            leaves = [e for e in _leaves(exc) if not isinstance(e, anyio.BrokenResourceError)]
            leaves = leaves or _leaves(exc)
            if any(not isinstance(e, Exception) for e in leaves):
                raise  # a cancellation or an interrupt goes on as it is
            raise self._stopped(leaves) from None
        finally:
            self.journal.close()
            self.report.elapsed = time.monotonic() - self.started
        self.progress()
        return self.report

    def _stopped(self, leaves: list[BaseException]) -> BaseException:
        """The error to raise when the import stops; rows not finished go in the report."""
        first = leaves[0]
        cause = f"{type(first).__name__}: {_one_line(str(first))}"
        for p in list(self._open.values()):
            if p.sent:
                why = f"unknown: on the wire when the import stopped ({cause}); a resume checks it"
            elif p.ambiguous:
                why = (
                    "unknown: an earlier run sent it and this one stopped before checking "
                    f"whether it arrived ({cause}); a resume checks it"
                )
            else:
                why = f"not sent: the import stopped ({cause})"
            self.report.failed.append(FailedRow(p.row.line, why, _public(p.row.data)))
        self._open.clear()
        self.report.elapsed = time.monotonic() - self.started
        if isinstance(first, CoupontoolsError) and all(type(e) is type(first) for e in leaves):
            # One error, or the same one from every worker in flight (all told 401, all
            # refused the same way): raised as itself, so `except AuthenticationError`
            # works however many requests were out when it came.
            setattr(first, "report", self.report)  # noqa: B010 - documented: error.report
            return first
        error = BulkImportError(
            f"the import stopped on {len(leaves)} error(s), first {cause}",
            exceptions=leaves,
            report=self.report,
        )
        error.__cause__ = first
        return error

    async def _produce(
        self,
        rows: Iterable[Any] | AsyncIterable[Any],
        writer: MemoryObjectSendStream[list[_Pending]],
    ) -> None:
        batch: list[_Pending] = []
        async with aclosing(_rows(rows)) as stream:
            async for row in stream:
                pending = self._admit(row)
                if pending is not None:
                    batch.append(pending)
                    if len(batch) >= self.batch_size:
                        await _put(writer, batch)
                        batch = []
        if batch:
            await _put(writer, batch)

    def _admit(self, row: Row) -> _Pending | None:
        """A row ready to send, or None when it is done already, a duplicate, or invalid."""
        try:
            wire = self.validate(check_readable(row))
        except ValidationError as exc:
            self.fail_unread(row, str(exc))
            return None
        journal = self.journal
        fp = fingerprint(wire)
        seen = journal.lookup(fp)
        if seen is not None and seen.run == journal.run:
            self.fail_unread(row, f"the same row as line {seen.line}: imported once, not twice")
            return None
        if seen is not None and seen.status in DONE:
            self.report.skipped += 1  # done by an earlier run (the journal says so)
            return None
        value = wire.get(self.key)
        ambiguous = seen is not None and seen.status == "sending"
        if isinstance(value, str) and value.strip():
            key = value.strip().casefold()
            owner = journal.claim_key(key, fp)
            if owner is not None and owner.run != journal.run and owner.status == "sending":
                # Another row with this key was on the wire when an earlier run died (it
                # may be gone from the input now): look before sending this one.
                journal.take_key(key, fp)
                owner, ambiguous = None, True
            if owner is not None:
                if owner.run == journal.run:
                    why = f"the same {self.key} as line {owner.line}: not sent twice"
                else:
                    why = (
                        f"a row with the same {self.key} (line {owner.line} then) was "
                        f"{owner.status} by an earlier run of this journal: not sent again"
                    )
                self.fail_unread(row, why)
                return None
        # A row that may be on the server already (in flight when an earlier run stopped,
        # or taking over the key of one that was) stays "sending" until it is checked: as
        # "pending" it would read as never sent if this run too stopped before the check,
        # and the next run would send it again without looking.
        journal.mark([(fp, row.line)], "sending" if ambiguous else "pending")
        pending = _Pending(
            row,
            wire,
            fp,
            ambiguous=ambiguous,
            server_id=seen.id if seen is not None and seen.status == "sending" else None,
        )
        self._open[id(pending)] = pending
        return pending

    async def _worker(
        self,
        reader: MemoryObjectReceiveStream[list[_Pending]],
        send: Callable[[list[_Pending]], Awaitable[None]],
    ) -> None:
        async with reader:
            while True:
                try:  # a batch waiting needs no trip through the event loop (and most are)
                    batch = reader.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        batch = await reader.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                # No batch is started once the import is stopping (another worker's error,
                # a cancel): the cheap check of what receive() would have checked.
                await anyio.lowlevel.checkpoint_if_cancelled()
                # Durable before the request leaves: a crash from here on is "in flight".
                self.journal.mark([(p.fp, p.row.line) for p in batch], "sending")
                self.journal.commit()
                for p in batch:
                    p.sent = True
                await send(batch)
                self.progress()

    def _say_grace(self, grace: float) -> None:
        if not self.grace_said:  # once per import, however many requests are in flight
            self.grace_said = True
            logger.warning(
                "Import cancelled: waiting up to %g s for the creates already sent, so that "
                "their users are journalled and a resume links them",
                grace,
            )

    async def call(self, fn: Callable[[], Awaitable[Any]], *, grace: float | None = None) -> Any:
        """One request, inside the concurrency bound, after any shared 429 pause.

        A 429 the client gave up on pauses everybody for its Retry-After, within the
        client's cap and ``max_wait`` seconds in all; past either it is raised. With
        ``grace``, a request once started outlives a cancel of the import by up to that
        many seconds (see :func:`_outlive_cancel`); none is started after the cancel.
        """
        while True:
            await self.gate.wait()
            async with self.limiter:
                try:
                    if grace is None:
                        return await fn()
                    return await _outlive_cancel(fn, grace, self._say_grace)
                except RateLimitError as exc:
                    wait = exc.retry_after if exc.retry_after is not None else 1.0
                    if wait > self.policy.max_retry_after or self.waited + wait > self.max_wait:
                        raise
                    self.waited += wait
                    self.gate.hold(wait)

    async def settle(
        self, pending: list[_Pending], exists: Callable[[str], Awaitable[bool]]
    ) -> list[_Pending]:
        """Look up the rows an earlier attempt may have created (in parallel, bounded).

        Those found are created; those not found are sent again; a row whose check
        failed stays unsure, for the next round.
        """
        unsure = [p for p in pending if p.ambiguous]
        if not unsure:
            return pending
        found: list[_Pending] = []
        unknown: list[_Pending] = []

        async def look(p: _Pending) -> None:
            value = p.wire.get(self.key)
            if value in (None, ""):
                unknown.append(p)
                return
            try:
                there = await self.call(partial(exists, str(value)))
            except _AMBIGUOUS as exc:
                p.last_error = _describe(exc)
                return  # still unsure: checked again next round
            if there:
                found.append(p)
            else:
                p.ambiguous = False

        async with anyio.create_task_group() as tg:
            for p in unsure:
                tg.start_soon(look, p)
        self.finish("created", found)
        self.finish(
            "failed",
            unknown,
            reason=f"unknown: the request may have created it, and without {self.key!r} it "
            "cannot be checked; not sent again to avoid a duplicate",
            keep=True,
        )
        done = {id(p) for p in found} | {id(p) for p in unknown}
        return [p for p in pending if id(p) not in done]

    def give_up(self, pending: list[_Pending], attempts: int) -> None:
        """Rows still not done after the last round: say what is known about each."""
        unsure = [p for p in pending if p.ambiguous]
        checked = [p for p in pending if not p.ambiguous]
        for p in unsure:
            self.finish(
                "failed",
                [p],
                reason=f"unknown: {attempts} attempts failed and the check of whether one of "
                f"them created it failed too ({p.last_error}); a resume with the journal "
                "checks it again",
                keep=True,  # stays "sending": a resume looks before it sends
            )
        for p in checked:
            self.finish(
                "failed",
                [p],
                reason=f"not created: {attempts} attempts failed (last: {p.last_error}); "
                "checked, it is not on the server",
            )


def _check_bound(name: str, value: int, most: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a whole number of at least 1", param=name)
    if most is not None and value > most:
        raise ValidationError(f"{name} must be at most {most} (got {value})", param=name)


def _leaves(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup (a backport before 3.11)
    if isinstance(inner, (list, tuple)) and inner:
        return [leaf for e in inner for leaf in _leaves(e)]
    return [exc]


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_one_line(str(exc))}"


def _import_region(client: AsyncClient, default_region: str | None) -> str | None:
    """The import's phone region, checked before the first row is read."""
    if default_region is None:
        return client.default_region
    return check_region(default_region)


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not k.startswith("__")}


# ------------------------------------------------------------------------ wallet (v4)


async def import_wallet_users(
    client: AsyncClient,
    card_id: int,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int = 8,
    batch_size: int = 100,
    journal: str | os.PathLike[str] | None = None,
    on_progress: ProgressHook | None = None,
    key: str = "email",
    default_region: str | None = None,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> ImportReport:
    """Import rows into wallet card ``card_id`` with the v4 bulk endpoint, exactly once.

    See the module docstring for the guarantees. ``key`` is the field that identifies a
    user (default ``email``): two rows with the same one are one user, and it is what
    the importer looks up after an ambiguous failure; a row without it that meets one
    fails with that reason rather than risk a duplicate. ``default_region`` (``"BE"``,
    default: the client's) is the country of the file's national phone numbers (the
    ``phone`` extra).

    Raises:
        ValidationError: a bad ``card_id``, ``concurrency`` (1 to 64) or ``batch_size``,
            or a column the card cannot take; nothing was sent.
        JournalError: the journal cannot be used (another import's, damaged, in use).
    """
    if isinstance(card_id, bool) or not isinstance(card_id, int) or card_id < 1:
        raise ValidationError(
            f"card_id must be a wallet card's id (a whole number from 1), got {card_id!r}",
            param="card_id",
        )
    region = _import_region(client, default_region)
    importer = _Importer(
        client,
        target=_target(client, f"wallet/{card_id}"),
        concurrency=concurrency,
        batch_size=batch_size,
        journal=journal,
        on_progress=on_progress,
        key=key,
        validate=lambda data: prepare_item(WALLET_MODEL, data, default_region=region),
        columns=wallet_columns(),
        max_wait=max_wait,
    )

    async def exists(value: str) -> bool:
        return await _wallet_user_exists(importer, card_id, value)

    async def send(batch: list[_Pending]) -> None:
        await _send_wallet_batch(importer, card_id, batch, exists)

    return await importer.run(rows, send)


async def _send_wallet_batch(
    importer: _Importer,
    card_id: int,
    batch: list[_Pending],
    exists: Callable[[str], Awaitable[bool]],
) -> None:
    pending = batch
    for _ in range(_MAX_ROUNDS):
        pending = await importer.settle(pending, exists)
        sendable = [p for p in pending if not p.ambiguous]
        unsure = [p for p in pending if p.ambiguous]
        if sendable:
            try:
                # The rows were validated one by one on the way in: send them as they are.
                created = await importer.call(
                    partial(
                        importer.client._request,
                        OPERATIONS["wallet_users_create_many"],
                        path={"card_id": card_id},
                        body=[p.wire for p in sendable],
                        validated=True,
                    )
                )
            except _AMBIGUOUS as exc:
                for p in sendable:
                    p.ambiguous = True
                    p.last_error = _describe(exc)
                unsure += sendable
            except InvalidRequestError as exc:
                await _split_refused(importer, card_id, sendable, exc, exists)
            except APIError as exc:
                if _refused_unread(exc):
                    # The server turned the request away (credentials, the card, a 429 past
                    # the wait): none of these rows was created. Said so, and a resume
                    # sends them without looking them up first.
                    importer.finish(
                        "failed", sendable, reason=f"not created: {_one_line(str(exc))}"
                    )
                raise
            else:
                del created  # the answer's ids are not needed: the journal keys by content
                importer.finish("created", sendable)
        pending = unsure
        if not pending:
            return
    # The last attempt may have landed too: look before saying anything about it.
    pending = await importer.settle(pending, exists)
    importer.give_up(pending, _MAX_ROUNDS)


async def _split_refused(
    importer: _Importer,
    card_id: int,
    pending: list[_Pending],
    exc: APIError,
    exists: Callable[[str], Awaitable[bool]],
) -> None:
    """A batch refused for a bad row: halve it until the bad rows stand alone."""
    if len(pending) == 1:
        importer.finish("failed", pending, reason=_reason(exc))
        return
    middle = len(pending) // 2
    for half in (pending[:middle], pending[middle:]):
        await _send_wallet_batch(importer, card_id, half, exists)


async def _wallet_user_exists(importer: _Importer, card_id: int, value: str) -> bool:
    users = await importer.client.wallet_users.list(
        card_id, keyword=value, strict=True, include_voided=True, per_page=100
    )
    wanted = value.casefold()
    return any(str(getattr(u, importer.key, "") or "").casefold() == wanted for u in users)


def _refused_unread(exc: APIError) -> bool:
    """A 4xx answer to a create: the request was refused, nothing of it applied.

    Not 408 (the server may have acted before timing out) nor 409 (it may name what an
    earlier attempt created).
    """
    status = exc.status_code
    return status is not None and 400 <= status < 500 and status not in (408, 409)


def _reason(exc: APIError) -> str:
    if exc.messages:
        return "; ".join(exc.messages)
    return str(exc)


# -------------------------------------------------------------------- web loyalty (v3)


async def import_loyalty_users(
    client: AsyncClient,
    loyaltycard: str,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int = 8,
    journal: str | os.PathLike[str] | None = None,
    on_progress: ProgressHook | None = None,
    default_region: str | None = None,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> ImportReport:
    """Import rows as v3 web loyalty users of ``loyaltycard``: create each, then link it.

    One create per row (v3 has no bulk endpoint). The account's emails are unique, so a
    create whose answer was lost is settled by sending it again: "Email already exists"
    (304) means it is there, and the user is then looked up (on this card, then on the
    account's other cards) and linked. A user the search cannot find fails with that
    reason: v3 searches users only within a card. ``default_region`` as for
    :func:`import_wallet_users`.
    """
    link_op = OPERATIONS["loyalty_users_link"]
    prepare(link_op, body={"loyaltycard": loyaltycard, "user": "lus_check"})  # bad id: refused now
    region = _import_region(client, default_region)
    create_op = OPERATIONS["loyalty_users_create"]
    fields = frozenset(p.wire for p in create_op.params if p.location == "body")

    def validate(data: dict[str, Any]) -> dict[str, Any]:
        check_columns(data, fields)
        _, wire = prepare(create_op, body=data, default_region=region)
        return dict(wire or {})

    importer = _Importer(
        client,
        target=_target(client, f"loyalty/{loyaltycard}"),
        concurrency=concurrency,
        batch_size=1,
        journal=journal,
        on_progress=on_progress,
        key="email",
        validate=validate,
        columns=fields,
        max_wait=max_wait,
    )

    async def send(batch: list[_Pending]) -> None:
        for p in batch:
            await _send_loyalty_row(importer, loyaltycard, p)

    return await importer.run(rows, send)


async def _outlive_cancel(
    fn: Callable[[], Awaitable[T]], grace: float, on_cancel: Callable[[float], None]
) -> T:
    """``await fn()``, which a cancel from outside interrupts only after ``grace`` seconds.

    The cancel is not lost: it is raised once ``fn`` is done (or out of time). This needs
    the caller to run in a task of a task group, as import workers do: a task cancelled
    natively (``task.cancel()``) is not shielded by anyio, its children are.
    """
    shield = anyio.CancelScope(shield=True)
    done: list[T] = []
    failed: list[Exception] = []

    async def start_the_clock_on_cancel() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            if not done and not failed:  # cancelled from outside while fn runs
                shield.deadline = min(shield.deadline, anyio.current_time() + grace)
                on_cancel(grace)

    async with anyio.create_task_group() as tg:
        tg.start_soon(start_the_clock_on_cancel)
        with shield:
            try:
                done.append(await fn())
            except Exception as exc:  # raised again below, outside the task group
                failed.append(exc)
        tg.cancel_scope.cancel()
    if failed:
        raise failed[0]
    if not done:  # out of grace: the cancel from outside is pending; let it through
        await anyio.lowlevel.checkpoint()
    return done[0]


async def _send_loyalty_row(importer: _Importer, loyaltycard: str, p: _Pending) -> None:
    client = importer.client
    user_id = p.server_id  # created by an earlier run that died before linking it

    async def create() -> str | None:
        # Journalled inside the grace: a cancel between answer and journal loses the user.
        found = _loyalty_user_id(await client.loyalty_users.create(**p.wire))
        if found is not None:
            importer.journal.remember_id(p.fp, found)  # a resume links, not re-creates
        return found

    for _ in range(0 if user_id else _MAX_ROUNDS):
        try:
            user_id = await importer.call(create, grace=CANCEL_GRACE)
            break
        except _AMBIGUOUS as exc:
            p.ambiguous = True
            p.last_error = _describe(exc)
            continue  # the account's unique email makes a repeat safe: 304 if it exists
        except InvalidRequestError as exc:
            if 304 not in exc.codes:
                importer.finish("failed", [p], reason=_reason(exc))
                return
            email = str(p.wire.get("email"))
            user_id = await _find_loyalty_user(importer, loyaltycard, email)
            if user_id is None:
                how = (
                    "an earlier attempt whose answer was lost may have created it"
                    if p.ambiguous
                    else "it was there before"
                )
                importer.finish(
                    "failed",
                    [p],
                    reason=f"the email already exists on the account ({how}) but no card's "
                    "search finds it, so it could not be linked: link it by hand",
                )
                return
            break
    if user_id is None:
        importer.finish(
            "failed",
            [p],
            reason=f"unknown: {_MAX_ROUNDS} attempts failed ({p.last_error}); a resume with "
            "the journal tries again (an existing email answers 304 and is linked)",
            keep=True,
        )
        return
    for _ in range(_MAX_ROUNDS):
        try:
            await importer.call(
                lambda: client.loyalty_users.link(loyaltycard=loyaltycard, user=user_id)
            )
            importer.finish("created", [p])
            return
        except _AMBIGUOUS as exc:
            p.last_error = _describe(exc)
            continue  # linking twice leaves one link
        except APIError as exc:
            importer.finish(
                "failed", [p], reason=f"created as {user_id} but not linked: {_reason(exc)}"
            )
            return
    importer.finish(
        "failed",
        [p],
        reason=f"created as {user_id} but linking kept failing ({p.last_error}); "
        "a resume with the journal links it",
        keep=True,
    )


def _loyalty_user_id(created: Any) -> str | None:
    for name in ("user_id", "user", "id"):
        value: Any = getattr(created, name, None)
        if isinstance(value, str):
            if value:
                return value
        elif value is not None and hasattr(value, "id"):
            return str(value.id)
    return None


async def _find_loyalty_user(importer: _Importer, loyaltycard: str, email: str) -> str | None:
    """The id of the account's user with this email: on this card first, then on the others."""
    cards = [loyaltycard]
    try:
        listing = await importer.call(lambda: importer.client.loyalty_cards.list())
    except (NotFoundError, InvalidRequestError):
        listing = None
    for card in getattr(listing, "loyaltycard", None) or []:
        card_id = str(getattr(card, "id", "") or "")
        if card_id and card_id not in cards:
            cards.append(card_id)
    wanted = email.casefold()
    for card_id in cards:
        try:
            found = await importer.call(
                partial(importer.client.loyalty_users.search, loyaltycard=card_id, search=email)
            )
        except (NotFoundError, InvalidRequestError):
            continue
        for user in getattr(found, "users", None) or []:
            if str(getattr(user, "email", "")).casefold() == wanted:
                return str(user.id)
    return None
