"""Bulk imports of loyalty users: bounded concurrency, exactly once, resumable, reported.

::

    report = await ct.wallet_users.import_users(card_id, read_csv("users.csv"), journal="users.journal")
    print(report.created, report.skipped, len(report.failed))

What it promises:

- **Nothing is lost**: every input row ends as created, skipped (done by an earlier run,
  or already there) or failed with its line number and the reason. Rows that break a
  documented rule (bad email, bad E.164 phone, over-long field, unknown column) fail
  before anything is sent.
- **Nothing is duplicated**: after an *ambiguous* failure — the request may have
  reached the server (read timeout, dropped connection, a 5xx on a create) — it asks
  the server which of the batch's rows already exist (by email, or the ``key`` you
  name) and sends only the others again.
- **Resumable**: with ``journal=PATH``, every outcome is appended (one JSON line, written
  whole) as it happens; run the same import with the same journal after a crash or
  Ctrl-C and the rows already done are skipped. A batch in flight when the run died is
  checked against the server like any ambiguous failure.
- **Bounded**: at most ``concurrency`` requests at once (an anyio ``CapacityLimiter``),
  the input read as it is consumed (a 1,000,000-row file is never held in memory), and
  a 429 pauses every worker together for its Retry-After.
"""

from __future__ import annotations

import csv
import json
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
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import attrs

from ._convert import unstructure
from ._generated import OPERATIONS
from ._transport import RetryEvent
from ._validation import check_region, prepare_item
from .errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)

if TYPE_CHECKING:
    from ._client import AsyncClient

__all__ = [
    "FailedRow",
    "ImportProgress",
    "ImportReport",
    "Row",
    "import_loyalty_users",
    "import_wallet_users",
    "read_csv",
    "read_jsonl",
    "read_rows",
    "validate_wallet_row",
]

WALLET_MODEL = "WalletUserInput"
_AMBIGUOUS = (APIConnectionError, ServerError)
_MAX_ROUNDS = 8


# ----------------------------------------------------------------------------- input


@attrs.frozen
class Row:
    """One input row: its line number in the source (or position) and its fields."""

    line: int
    data: dict[str, Any]


def read_csv(path: str | os.PathLike[str], *, encoding: str = "utf-8-sig") -> Iterator[Row]:
    """Stream the rows of a CSV file with a header line; empty cells are left out.

    Line numbers are the file's (the header is line 1), so a report points at the line
    to fix. The file is read as it is consumed, never whole.
    """
    with open(path, newline="", encoding=encoding) as handle:
        yield from _csv_rows(handle)


def _csv_rows(handle: TextIO) -> Iterator[Row]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        return
    names = [name.strip() for name in header]
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(names):
            extra = values[len(names) :]
            data: dict[str, Any] = {"__extra__": extra}
        else:
            data = {}
        for name, value in zip(names, values, strict=False):
            if value.strip() != "":
                data[name] = value.strip()
        yield Row(line, data)


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[Row]:
    """Stream the objects of a JSON Lines file (one object per line; blank lines skipped).

    A line that is not a JSON object becomes a row that fails with the reason.
    """
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
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


def read_rows(path: str | os.PathLike[str]) -> Iterator[Row]:
    """:func:`read_jsonl` for ``.jsonl``/``.ndjson`` files, else :func:`read_csv`."""
    suffix = Path(path).suffix.lower()
    return read_jsonl(path) if suffix in (".jsonl", ".ndjson") else read_csv(path)


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
    (not JSON, not an object, more values than the header has columns)."""
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


# --------------------------------------------------------------------------- journal


class Journal:
    """Append-only JSON lines of outcomes; read back on resume.

    Each record is one ``write`` of one whole line followed by a flush, from synchronous
    code: a cancellation cannot land half-way through it. A torn last line (a crash
    mid-write) is ignored when reading.
    """

    def __init__(self, path: str | os.PathLike[str], scope: str) -> None:
        self.path = Path(path)
        self.scope = scope
        self.done: dict[int, str] = {}
        """Line → "created" / "skipped" for rows finished by earlier runs."""
        self.in_flight: set[int] = set()
        """Lines sent by an earlier run whose outcome was never recorded."""
        self._handle: TextIO | None = None
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        sending: set[int] = set()
        with open(self.path, encoding="utf-8") as handle:
            for text in handle:
                try:
                    record = json.loads(text)
                except ValueError:
                    continue  # a torn last line
                if record.get("scope") not in (None, self.scope):
                    raise ValidationError(
                        f"the journal {self.path} belongs to another import ({record.get('scope')})",
                        param="journal",
                        rule="scope",
                    )
                status = record.get("status")
                lines = record.get("lines") or [record.get("line")]
                if status == "sending":
                    sending.update(lines)
                elif status in ("created", "skipped"):
                    for line in lines:
                        self.done[int(line)] = status
                        sending.discard(line)
                elif status == "failed":
                    for line in lines:
                        sending.discard(line)
        self.in_flight = sending - set(self.done)

    def open(self) -> None:
        """Open for appending (and write the scope header on a new journal)."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if new:
            self.write({"scope": self.scope, "status": "start", "at": time.time()})

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line, flushed."""
        assert self._handle is not None
        self._handle.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Flush to disk and close."""
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None


# ---------------------------------------------------------------------------- engine


@attrs.define
class _Pending:
    row: Row
    wire: dict[str, Any]
    ambiguous: bool = False
    """True when an earlier attempt may have created it: check before sending again."""


class _Gate:
    """Pauses every worker together (a 429 seen by one holds all of them)."""

    def __init__(self) -> None:
        self._until = 0.0

    def hold(self, seconds: float) -> None:
        self._until = max(self._until, time.monotonic() + seconds)

    async def wait(self) -> None:
        while True:
            remaining = self._until - time.monotonic()
            if remaining <= 0:
                return
            await anyio.sleep(remaining)


class _Importer:
    """Shared machinery of the wallet (batched) and v3 loyalty (per row) imports."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        scope: str,
        concurrency: int,
        batch_size: int,
        journal: str | os.PathLike[str] | None,
        on_progress: ProgressHook | None,
        key: str,
        validate: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        if concurrency < 1:
            raise ValidationError(
                "concurrency must be at least 1", param="concurrency", rule="minimum"
            )
        if batch_size < 1:
            raise ValidationError(
                "batch_size must be at least 1", param="batch_size", rule="minimum"
            )
        self.gate = _Gate()
        self.client = client.with_options(on_retry=self._on_retry)
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.journal = Journal(journal, scope) if journal is not None else None
        self.on_progress = on_progress
        self.key = key
        self.validate = validate
        self.report = ImportReport()
        self.started = time.monotonic()
        self._user_hook = client.on_retry

    # ---- bookkeeping

    async def _on_retry(self, event: RetryEvent) -> None:
        if event.status_code == 429:
            self.gate.hold(event.delay)  # everybody waits, not just the one who was told
        if self._user_hook is not None:
            result = self._user_hook(event)
            if isinstance(result, Awaitable):
                await result

    def record(
        self,
        status: str,
        rows: list[Row],
        *,
        reason: str | None = None,
        ids: list[Any] | None = None,
    ) -> None:
        if self.journal is not None and rows:
            entry: dict[str, Any] = {"status": status, "lines": [r.line for r in rows]}
            if reason:
                entry["reason"] = reason
            if ids is not None:
                entry["ids"] = ids
            self.journal.write(entry)
        if status == "created":
            self.report.created += len(rows)
        elif status == "skipped":
            self.report.skipped += len(rows)
        elif status == "failed":
            for row in rows:
                self.report.failed.append(
                    FailedRow(row.line, reason or "failed", _public(row.data))
                )

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
        if self.journal is not None:
            self.journal.open()
        writer, reader = anyio.create_memory_object_stream[list[_Pending]](self.concurrency)
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(self.concurrency):
                    tg.start_soon(self._worker, reader.clone(), send)
                reader.close()
                async with writer:
                    await self._produce(rows, writer)
        finally:
            if self.journal is not None:
                self.journal.close()
            self.report.elapsed = time.monotonic() - self.started
        self.progress()
        return self.report

    async def _produce(
        self,
        rows: Iterable[Any] | AsyncIterable[Any],
        writer: anyio.abc.ObjectSendStream[list[_Pending]],
    ) -> None:
        batch: list[_Pending] = []
        done = self.journal.done if self.journal else {}
        in_flight = self.journal.in_flight if self.journal else set()
        async with aclosing(_rows(rows)) as stream:
            async for row in stream:
                pending = self._admit(row, done, in_flight)
                if pending is not None:
                    batch.append(pending)
                    if len(batch) >= self.batch_size:
                        await writer.send(batch)
                        batch = []
        if batch:
            await writer.send(batch)

    def _admit(self, row: Row, done: dict[int, str], in_flight: set[int]) -> _Pending | None:
        """A row ready to send, or None when it is done already or fails validation."""
        if row.line in done:
            self.report.skipped += 1  # done by an earlier run: already in the journal
            return None
        try:
            wire = self._validated(row)
        except ValidationError as exc:
            self.record("failed", [row], reason=str(exc))
            self.progress()
            return None
        return _Pending(row, wire, ambiguous=row.line in in_flight)

    def _validated(self, row: Row) -> dict[str, Any]:
        return self.validate(check_readable(row))

    async def _worker(
        self,
        reader: anyio.abc.ObjectReceiveStream[list[_Pending]],
        send: Callable[[list[_Pending]], Awaitable[None]],
    ) -> None:
        async with reader:
            async for batch in reader:
                if self.journal is not None:
                    self.journal.write({"status": "sending", "lines": [p.row.line for p in batch]})
                await send(batch)
                self.progress()

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """One request, inside the concurrency bound, after any shared 429 pause."""
        while True:
            await self.gate.wait()
            async with self.limiter:
                try:
                    return await fn()
                except RateLimitError as exc:  # waited out too long by the client: hold all
                    self.gate.hold(exc.retry_after or 1.0)


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
) -> ImportReport:
    """Import rows into wallet card ``card_id`` with the v4 bulk endpoint, exactly once.

    See the module docstring for the guarantees. ``key`` is the field that identifies a
    user when checking what an ambiguous failure created (default ``email``); a row
    without it that meets an ambiguous failure fails with that reason rather than risk a
    duplicate. ``default_region`` (``"BE"``, default: the client's) is the country of
    the file's national phone numbers (the ``phone`` extra).
    """
    region = _import_region(client, default_region)
    importer = _Importer(
        client,
        scope=f"wallet:{card_id}",
        concurrency=concurrency,
        batch_size=batch_size,
        journal=journal,
        on_progress=on_progress,
        key=key,
        validate=lambda data: prepare_item(WALLET_MODEL, data, default_region=region),
    )

    async def send(batch: list[_Pending]) -> None:
        await _send_wallet_batch(importer, card_id, batch)

    return await importer.run(rows, send)


async def _send_wallet_batch(importer: _Importer, card_id: int, batch: list[_Pending]) -> None:
    pending = batch
    for _ in range(_MAX_ROUNDS):
        pending = await _settle_ambiguous(importer, card_id, pending)
        if not pending:
            return
        try:
            # The rows were validated one by one on the way in: send them as they are.
            created = await importer.call(
                partial(
                    importer.client._request,
                    OPERATIONS["wallet_users_create_many"],
                    path={"card_id": card_id},
                    body=[p.wire for p in pending],
                    validated=True,
                )
            )
        except _AMBIGUOUS:
            for p in pending:
                p.ambiguous = True
            continue
        except InvalidRequestError as exc:
            await _split_refused(importer, card_id, pending, exc)
            return
        except (AuthenticationError, NotFoundError):
            importer.record("failed", [p.row for p in pending], reason="import stopped")
            raise
        importer.record(
            "created", [p.row for p in pending], ids=[getattr(u, "id", None) for u in created]
        )
        return
    importer.record(
        "failed",
        [p.row for p in pending],
        reason=f"still failing after {_MAX_ROUNDS} attempts; none of these rows exist",
    )


async def _split_refused(
    importer: _Importer, card_id: int, pending: list[_Pending], exc: APIError
) -> None:
    """A batch refused for a bad row: halve it until the bad rows stand alone."""
    if len(pending) == 1:
        importer.record("failed", [pending[0].row], reason=_reason(exc))
        return
    middle = len(pending) // 2
    for half in (pending[:middle], pending[middle:]):
        await _send_wallet_batch(importer, card_id, half)


async def _settle_ambiguous(
    importer: _Importer, card_id: int, pending: list[_Pending]
) -> list[_Pending]:
    """Rows an earlier attempt may have created: those that exist are done."""
    unsure = [p for p in pending if p.ambiguous]
    if not unsure:
        return pending
    still: list[_Pending] = [p for p in pending if not p.ambiguous]
    found_rows: list[Row] = []
    for p in unsure:
        value = p.wire.get(importer.key)
        if value in (None, ""):
            importer.record(
                "failed",
                [p.row],
                reason=f"the request may have created it, and without {importer.key!r} "
                "it cannot be checked; not sent again to avoid a duplicate",
            )
            continue
        exists = await importer.call(partial(_wallet_user_exists, importer, card_id, str(value)))
        if exists:
            found_rows.append(p.row)
        else:
            p.ambiguous = False
            still.append(p)
    if found_rows:
        importer.record("created", found_rows)
    return still


async def _wallet_user_exists(importer: _Importer, card_id: int, value: str) -> bool:
    users = await importer.client.wallet_users.list(
        card_id, keyword=value, strict=True, include_voided=True, per_page=100
    )
    wanted = value.casefold()
    return any(str(getattr(u, importer.key, "") or "").casefold() == wanted for u in users)


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
) -> ImportReport:
    """Import rows as v3 web loyalty users of ``loyaltycard``: create each, then link it.

    One create per row (v3 has no bulk endpoint). A create whose answer was lost is
    resolved by the account's unique email: sending it again answers 304 "Email already
    exists", and the user is then found on the card, or linked after a search.
    ``default_region`` as for :func:`import_wallet_users`.
    """
    from ._generated import OPERATIONS

    region = _import_region(client, default_region)

    create_op = OPERATIONS["loyalty_users_create"]
    fields = {p.wire for p in create_op.params if p.location == "body"}

    def validate(data: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValidationError(
                f"{unknown[0]}: unknown column (known: {', '.join(sorted(fields))})",
                param=unknown[0],
                rule="unknown",
            )
        from ._validation import prepare

        _, wire = prepare(create_op, body=data, default_region=region)
        return dict(wire or {})

    importer = _Importer(
        client,
        scope=f"loyalty:{loyaltycard}",
        concurrency=concurrency,
        batch_size=1,
        journal=journal,
        on_progress=on_progress,
        key="email",
        validate=validate,
    )

    async def send(batch: list[_Pending]) -> None:
        for p in batch:
            await _send_loyalty_row(importer, loyaltycard, p)

    return await importer.run(rows, send)


async def _send_loyalty_row(importer: _Importer, loyaltycard: str, p: _Pending) -> None:
    client = importer.client
    user_id: str | None = None
    for _ in range(_MAX_ROUNDS):
        try:
            created = await importer.call(lambda: client.loyalty_users.create(**p.wire))
            user_id = _loyalty_user_id(created)
            break
        except _AMBIGUOUS:
            continue  # the account's unique email makes a repeat safe: 304 if it exists
        except InvalidRequestError as exc:
            if 304 in exc.codes:
                user_id = await _find_loyalty_user(importer, loyaltycard, str(p.wire.get("email")))
                if user_id is None:
                    importer.record(
                        "skipped", [p.row], reason="email already exists on the account"
                    )
                    return
                break
            importer.record("failed", [p.row], reason=_reason(exc))
            return
    if user_id is None:
        importer.record("failed", [p.row], reason=f"still failing after {_MAX_ROUNDS} attempts")
        return
    for _ in range(_MAX_ROUNDS):
        try:
            await importer.call(
                lambda: client.loyalty_users.link(loyaltycard=loyaltycard, user=user_id)
            )
            importer.record("created", [p.row], ids=[user_id])
            return
        except _AMBIGUOUS:
            continue  # linking twice leaves one link
        except APIError as exc:
            importer.record(
                "failed", [p.row], reason=f"created as {user_id} but not linked: {_reason(exc)}"
            )
            return
    importer.record("failed", [p.row], reason=f"created as {user_id} but linking kept failing")


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
    try:
        found = await importer.call(
            lambda: importer.client.loyalty_users.search(loyaltycard=loyaltycard, search=email)
        )
    except (NotFoundError, InvalidRequestError):
        return None
    users: list[Any] = getattr(found, "users", None) or []
    for user in users:
        if str(getattr(user, "email", "")).casefold() == email.casefold():
            return str(user.id)
    return None
