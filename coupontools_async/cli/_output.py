"""What the commands print: tables, pairs, trees and JSON on stdout, progress on stderr.

Rich is imported inside the functions, so that ``--help`` does not pay for it."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from .._redact import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table
    from rich.tree import Tree

    from ..bulk import ImportProgress


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
    from .._convert import unstructure

    return unstructure(value)


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
