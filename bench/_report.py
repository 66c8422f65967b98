"""What every part hands back to the driver, and the helpers the parts share.

A part returns a :class:`Part`: markdown lines for RESULTS.md, the targets it checked
(:class:`Target`, with pass/miss and by how much), and notes on what it scaled down.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Context",
    "DiffProfile",
    "Part",
    "Target",
    "diff_profile",
    "fmt",
    "format_profile",
    "median",
    "package_shares",
    "profile_lines",
    "share",
    "spread",
    "table",
]


@dataclass
class Target:
    """One target of the issue: a measured value against its limit."""

    name: str
    value: float
    limit: float
    higher_is_better: bool = False
    unit: str = ""
    absolute: bool = False
    """Say the margin in the unit (MB) rather than as a percentage of the limit."""
    why: str = ""
    """For a miss: where the time goes (filled in by the part)."""
    spread: tuple[float, float] | None = None
    """Lowest and highest value over the repetitions (paired ratios), when known."""

    @property
    def met(self) -> bool:
        """True when the value is on the right side of the limit."""
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def margin(self) -> str:
        """By how much it passes or misses, in words."""
        if self.absolute or self.limit == 0:
            gap = self.value - self.limit
            text = f"{abs(gap):.1f}{self.unit}"
        else:
            gap = (self.value - self.limit) / abs(self.limit)
            text = f"{abs(gap) * 100:.{1 if abs(gap) < 0.1 else 0}f}%"
        verdict = f"met, {text} to spare" if self.met else f"missed by {text}"
        if self.spread is not None and self.spread[0] <= self.limit <= self.spread[1]:
            low, high = self.spread
            verdict += (
                f" — within the run-to-run noise (the repetitions ranged {low:.3f}–{high:.3f}"
                f"{self.unit}, on both sides of the limit)"
            )
        return verdict


@dataclass
class Part:
    """The outcome of one part of the suite."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was scaled down or differs from the issue's wording, and why."""
    seconds: float = 0.0
    budget: float = 0.0
    error: str | None = None


@dataclass
class Context:
    """What the driver gives every part: the mode, a scratch directory, time budgets."""

    quick: bool
    tmp: Path
    budgets: dict[str, float]
    shared: dict[str, Any] = field(default_factory=dict)
    """Things one part builds and another reuses (the generated peer client)."""

    def budget(self, key: str) -> float:
        """Seconds this part should fit in."""
        return self.budgets.get(key, 60.0)

    @classmethod
    def scratch(cls, quick: bool, budgets: dict[str, float]) -> Context:
        """A context with a fresh temporary directory (removed by the caller)."""
        return cls(quick=quick, tmp=Path(tempfile.mkdtemp(prefix="ct-bench-")), budgets=budgets)


def median(values: Iterable[float]) -> float:
    """The median (of at least one value)."""
    return float(statistics.median(list(values)))


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 0) -> str:
    """``min–max`` of the values, scaled, for showing the noise next to a median."""
    low, high = min(values) * scale, max(values) * scale
    return f"{low:.{digits}f}–{high:.{digits}f}"


def fmt(value: float, digits: int = 2) -> str:
    """A number with a fixed number of decimals and thousands separators."""
    return f"{value:,.{digits}f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return lines


def _package_of(filename: str) -> str:
    """A short owner for a profiled function: the top-level package, or the stdlib module."""
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for marker in ("/coupontools_async/", "/bench/"):
        if marker in path:
            rest = path.split(marker, 1)[1].removesuffix(".py").split("/")
            return ".".join([marker.strip("/"), *rest[:2]])
    if filename.startswith("<") or filename == "~":
        return "builtins (C)"
    return "stdlib " + Path(path).stem


def profile_lines(
    run: Callable[[], object], *, top: int = 15, title: str = "cProfile"
) -> tuple[list[str], object]:
    """Profile ``run()``; markdown of its top functions (see :func:`format_profile`)."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        result = run()
    finally:
        profiler.disable()
    return format_profile(profiler, title=title, top=top), result


def _own_by_function(profiler: cProfile.Profile) -> dict[tuple[str, int, str], float]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return {key: entry[2] for key, entry in raw.items()}


_WAITING = ("<method 'poll' of 'select.epoll' objects>", "<method 'select' of 'select.")


@dataclass
class DiffProfile:
    """Where one profiled run spends more own time per call than another."""

    lines: list[str]
    """Markdown, with the largest differences."""
    extra_us: float
    """Extra own µs per call in all (waiting in ``epoll`` left out: idle, not CPU)."""
    ours_us: float
    """The part of it in coupontools_async's own functions."""
    largest: list[tuple[str, float]]
    """(function, extra µs per call), largest first."""


def diff_profile(
    base: cProfile.Profile,
    other: cProfile.Profile,
    calls: int,
    *,
    title: str,
    names: tuple[str, str] = ("b", "a"),
    top: int = 15,
) -> DiffProfile:
    """Where ``other`` spends more own time per call than ``base`` does."""
    a, b = _own_by_function(base), _own_by_function(other)
    rows = []
    for key in set(a) | set(b):
        if key[2].startswith(_WAITING):
            continue
        extra = (b.get(key, 0.0) - a.get(key, 0.0)) / calls * 1e6
        rows.append((extra, key, b.get(key, 0.0) / calls * 1e6, a.get(key, 0.0) / calls * 1e6))
    total = sum(r[0] for r in rows)
    ours = sum(r[0] for r in rows if _package_of(r[1][0]).startswith("coupontools_async"))
    rows.sort(key=lambda r: r[0], reverse=True)
    largest = [(f"{r[1][2]} ({Path(r[1][0]).name}:{r[1][1]})", r[0]) for r in rows[:top]]
    body = []
    for extra, (filename, line, name), with_b, with_a in rows[:top]:
        short = Path(filename).name if not filename.startswith("<") and filename != "~" else ""
        label = f"`{name}` ({short}:{line})" if short else f"`{name}`"
        body.append(
            (label, _package_of(filename), f"{with_b:.1f}", f"{with_a:.1f}", f"{extra:+.1f}")
        )
    more, less = names
    lines = [
        f"{title}: own time per call, under the profiler (which slows everything about "
        f"twice), {more} minus {less}. In all, {more} spends {total:+.0f} µs per call more "
        f"than {less}, {ours:+.0f} µs of it in coupontools_async's own functions, the rest "
        "in the httpx/anyio/asyncio work those functions ask for. Waiting in `epoll` is left "
        f"out. The {top} largest differences:",
        "",
        *table(
            ["function", "package", f"{more} µs/call", f"{less} µs/call", "extra µs/call"], body
        ),
    ]
    return DiffProfile(lines, total, ours, largest)


def package_shares(profiler: cProfile.Profile) -> dict[str, float]:
    """Own seconds of a profile summed by package (see :func:`share`)."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = {}
    for (filename, _line, _name), entry in raw.items():
        owner = _package_of(filename)
        by_package[owner] = by_package.get(owner, 0.0) + entry[2]
    return by_package


def share(shares: dict[str, float], *prefixes: str) -> float:
    """The fraction of the profiled time spent in packages starting with one of ``prefixes``."""
    total = sum(shares.values()) or 1e-9
    return sum(v for k, v in shares.items() if k.startswith(prefixes)) / total


def format_profile(profiler: cProfile.Profile, *, title: str, top: int = 15) -> list[str]:
    """Markdown: the top functions by own time, then own time summed by package."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1e-9
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines = [f"{title} — top {top} functions by own time (total {total:.2f} s profiled):", ""]
    body: list[tuple[str, ...]] = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in rows:
        where = _package_of(filename)
        short = Path(filename).name if not filename.startswith("<") and filename != "~" else ""
        label = f"`{name}` ({short}:{line})" if short else f"`{name}`"
        share = f"{tottime / total * 100:.1f}%"
        body.append((label, where, f"{ncalls:,}", f"{tottime:.3f}", share, f"{cumtime:.3f}"))
    lines += table(["function", "package", "calls", "own s", "own %", "cumulative s"], body)
    by_package = package_shares(profiler)
    lines += ["", "Own time by package or module (where the time goes):", ""]
    shares = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:12]
    lines += table(
        ["package / module", "own s", "share"],
        [(name, f"{seconds:.3f}", f"{seconds / total * 100:.1f}%") for name, seconds in shares],
    )
    return lines
