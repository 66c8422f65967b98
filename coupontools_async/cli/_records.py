"""Exports: records as CSV (cells a spreadsheet shows as text) or JSON lines, written
beside the target and moved in place once complete; the columns of users and sessions."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import attrs

from .._generated import models
from ._common import ExportFormat, UsageError, _Options, call
from ._output import _Activity, _json_default, _stderr, _text

if TYPE_CHECKING:
    from .._client import AsyncClient
    from .._pagination import Page

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


def _export_all(
    opts: _Options,
    pages: Callable[[AsyncClient], AsyncIterator[Page[Any]]],
    output: Path | None,
    *,
    fmt: ExportFormat,
    columns: Sequence[str],
    record: Callable[[Any], Mapping[str, Any]],
    what: str,
) -> None:
    """An export command: every item of ``pages(client)`` written, then how many and where."""
    count = call(
        opts,
        lambda ct: _export(pages(ct), output, fmt=fmt, columns=columns, record=record, what=what),
    )
    _export_note(count, what, output)


def _sandbox_note(opts: _Options) -> None:
    if opts.sandbox:
        _stderr().print("note: --sandbox: this change is gone when the command ends", markup=False)


def _export_note(count: int, what: str, path: Path | None) -> None:
    where = f" to {path}" if path is not None else ""
    _stderr().print(f"exported {count:,} {what}{where}", markup=False)
