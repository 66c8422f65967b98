"""Imports from a file: rows read as an export writes them, checked before anything is
sent, failed rows copied beside the input with their reason, the journal's flags."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import typer

from .._validation import REGION_HINT
from ..bulk import (
    CsvRows,
    FailedRow,
    ImportReport,
    Row,
    check_columns,
    read_rows,
    validate_wallet_row,
    wallet_columns,
)
from ..errors import CoupontoolsError, ValidationError
from ._common import UsageError, _Options, call
from ._output import _Activity, _add_row, _failed_note, _print_pairs, _stderr, _stdout, _table
from ._records import READ_ONLY_COLUMNS, _csv_uncell, _is_jsonl

if TYPE_CHECKING:
    from .._client import AsyncClient

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


@contextmanager
def _cli_spelling() -> Iterator[None]:
    """Phone errors raised inside advise this command's option, not the Python argument
    (a run started inside copies the context, so its worker tasks see it too)."""
    token = REGION_HINT.set("add --default-region BE (your country)")
    try:
        yield
    finally:
        REGION_HINT.reset(token)


def _dry_run(
    path: Path,
    activity: _Activity,
    encoding: str = "utf-8-sig",
    delimiter: str | None = None,
    default_region: str | None = None,
) -> ImportReport:
    report = ImportReport()
    started = time.monotonic()
    with _cli_spelling():
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


@attrs.frozen
class _ImportOptions:
    """How the file of an import is read, journaled and resumed."""

    journal: Path | None
    total: int
    encoding: str
    delimiter: str | None
    region: str | None
    resume: bool


def _send_file(
    opts: _Options,
    card: int,
    file: Path,
    how: _ImportOptions,
    *,
    concurrency: int,
    batch_size: int,
) -> ImportReport:
    """Import the file's rows into ``card``; when the import stops on an error, say which
    rows were not done (written beside the file) and how to continue, then exit."""
    stopped: list[ImportReport] = []

    async def send(ct: AsyncClient) -> ImportReport:
        with _Activity(f"importing {file.name}", total=how.total, unit="rows") as activity:
            try:
                return await ct.wallet_users.import_users(
                    card,
                    _import_rows(file, how.encoding, how.delimiter),
                    concurrency=concurrency,
                    batch_size=batch_size,
                    journal=how.journal,
                    on_progress=activity.on_import,
                    default_region=how.region,
                )
            except CoupontoolsError as exc:
                partial = getattr(exc, "report", None)
                if isinstance(partial, ImportReport):
                    stopped.append(partial)  # what was done, and what was not
                raise

    if how.resume:
        hint = "run the same command again to continue"
    else:
        hint = "add --resume to the same command to continue"
    try:
        with _cli_spelling():
            report = call(opts, send, interrupted=hint)
    except typer.Exit:
        if stopped:  # the import stopped on an error: say which rows were not done
            not_done = _write_failures(file, stopped[0].failed, how.encoding, how.delimiter)
            _print_import_summary(
                f"Import of {file.name} into card {card} (stopped)",
                stopped[0],
                not_done,
                dry_run=False,
            )
            _stderr().print(f"the import stopped; {hint}: rows done are skipped", markup=False)
        raise
    return report
