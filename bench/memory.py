"""Part 4: the client's peak memory importing a 1,000,000-row CSV and iterating 100,000 users.

Every measurement runs in a fresh subprocess (``python -m bench.memory import|iterate``)
so its peak resident set size belongs to that run alone (Linux's ``VmHWM``: see
``_peak_mb`` for why not ``ru_maxrss``). The parent writes the CSV files to a temporary directory, serves the sandbox in
a third process, runs the children and compares their peaks: the import streams the
file with ``read_csv`` (default concurrency 8, batches of 100), the iteration is
``async for u in ct.wallet_users.iter(card, per_page=1000)`` stopped at the count. Both
must stay flat: the peak at the full size minus the peak at 10,000 is the growth.

The sandbox runs with ``--sessions 0`` rather than ``--empty``: an empty account has no
wallet card, and the API has no operation that creates one, so there would be nothing
to import into. ``--sessions 0`` seeds three cards with a few dozen users each and no
coupon sessions.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ._report import Context, Part, Target, table
from ._server import CLIENT_ID, CLIENT_SECRET, served

__all__ = ["main", "run"]

CARD_ID = 1
COLUMNS = ("first_name", "last_name", "email", "phone", "city", "zip", "custom_1")


@dataclass
class Measure:
    kind: str
    rows: int
    wall: float
    cpu: float
    baseline_mb: float
    peak_before_mb: float
    peak_mb: float
    ru_maxrss_mb: float
    samples: list[tuple[int, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows / self.wall if self.wall else 0.0


def write_csv(path: Path, count: int) -> None:
    """A users CSV with a header and ``count`` valid rows (unique emails)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(count):
            writer.writerow(
                (
                    f"Ann{n}",
                    "Peeters",
                    f"mem{n}@example.com",
                    f"+3247{n % 10**7:07d}",
                    "Ghent",
                    "9000",
                    "latte",
                )
            )


# --------------------------------------------------------------------------- parent


def run(ctx: Context) -> Part:
    """Run part 4 and describe it."""
    part = Part("memory", "4. Memory: peak RSS of the client process")
    budget = ctx.budget("memory")
    started = time.perf_counter()
    small, full, iter_small, iter_full = (
        (2_000, 20_000, 1_000, 5_000) if ctx.quick else (10_000, 1_000_000, 10_000, 100_000)
    )
    small_csv, full_csv = ctx.tmp / "users-small.csv", ctx.tmp / "users-full.csv"
    write_csv(small_csv, small)
    write_csv(full_csv, full)
    written = time.perf_counter() - started
    measures: dict[str, Measure] = {}
    part.notes.append(
        "Memory: the sandbox ran with `--sessions 0`, not `--empty`: an empty account has no "
        "wallet card and the API cannot create one, so there is nothing to import into. "
        "`--sessions 0` seeds three cards with a few dozen users and no coupon sessions."
    )
    with served("--sessions", "0") as server:
        measures["import-small"] = _child(
            ["import", server.url, str(CARD_ID), str(small_csv), str(small)], budget
        )
        # Fit the full import in what is left (keeping time for the two iterations).
        left = budget - (time.perf_counter() - started) - 30
        rate = measures["import-small"].rate
        rows = full
        if rate * left < full:
            rows = min(full, max(small * 10, int(rate * left * 0.8) // 100_000 * 100_000))
        if rows < full:
            part.notes.append(
                f"Memory: the large import used {rows:,} of the file's {full:,} rows — at the "
                f"{rate:,.0f} rows/s the 10k run reached, {full:,} would not fit this part's "
                f"{budget:.0f} s budget."
            )
        measures["import-full"] = _child(
            ["import", server.url, str(CARD_ID), str(full_csv), str(rows)], budget * 2
        )
        server_rss = server.rss_mb()
        held = min(iter_full, rows + small)
        measures["iter-small"] = _child(
            ["iterate", server.url, str(CARD_ID), str(iter_small)], budget
        )
        measures["iter-full"] = _child(["iterate", server.url, str(CARD_ID), str(held)], budget)
    _describe(part, measures, written, server_rss, small, full)
    return part


def _child(args: list[str], timeout: float) -> Measure:
    command = [sys.executable, "-m", "bench.memory", *args]
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=max(timeout, 60.0),
        cwd=root,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} child failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Measure(
        kind=data["kind"],
        rows=data["rows"],
        wall=data["wall"],
        cpu=data["cpu"],
        baseline_mb=data["baseline_mb"],
        peak_before_mb=data["peak_before_mb"],
        peak_mb=data["peak_mb"],
        ru_maxrss_mb=data["ru_maxrss_mb"],
        samples=[(int(n), float(mb)) for n, mb in data["samples"]],
    )


def _describe(
    part: Part,
    measures: dict[str, Measure],
    written: float,
    server_rss: float,
    small: int,
    full: int,
) -> None:
    rows = []
    labels = {
        "import-small": "import CSV (`read_csv` → `import_users`)",
        "import-full": "import CSV (`read_csv` → `import_users`)",
        "iter-small": "iterate (`wallet_users.iter(card, per_page=1000)`)",
        "iter-full": "iterate (`wallet_users.iter(card, per_page=1000)`)",
    }
    for key, m in measures.items():
        curve = " → ".join(f"{mb:.0f}" for _, mb in m.samples) if m.samples else "—"
        rows.append(
            (
                labels[key],
                f"{m.rows:,}",
                f"{m.wall:.1f}",
                f"{m.rate:,.0f}",
                f"{m.baseline_mb:.1f}",
                f"{m.peak_before_mb:.1f}",
                f"{m.peak_mb:.1f}",
                f"{m.peak_mb - m.baseline_mb:.1f}",
                curve,
            )
        )
    inherited = min(m.ru_maxrss_mb for m in measures.values())
    part.lines += [
        "Each line is a fresh client process. *Start* is its RSS after imports and client "
        "creation, before the work; *peak before work* its peak RSS at that moment (imports "
        "and start-up); *peak* its peak RSS at the end; the *RSS curve* samples the RSS at "
        "each tenth of the work. Peaks are the process's own high-water mark: Linux's "
        "`VmHWM`, `ru_maxrss` elsewhere.",
        "",
    ]
    if sys.platform == "linux":
        part.lines += [
            "Not `ru_maxrss` on Linux: the kernel carries the spawning process's high-water "
            "mark into the child across fork and exec, so every child here reported a "
            f"`ru_maxrss` of at least {inherited:.0f} MB — the benchmark driver's size — "
            "whatever it did itself.",
            "",
        ]
    part.lines += table(
        [
            "what",
            "rows",
            "seconds",
            "rows/s",
            "start MB",
            "peak before work MB",
            "peak MB",
            "peak − start MB",
            "RSS curve (MB)",
        ],
        rows,
    )
    imp_small, imp_full = measures["import-small"], measures["import-full"]
    it_small, it_full = measures["iter-small"], measures["iter-full"]
    growth = imp_full.peak_mb - imp_small.peak_mb
    iter_growth = it_full.peak_mb - it_small.peak_mb
    part.targets.append(
        Target(
            f"import peak RSS growth, {imp_small.rows:,} → {imp_full.rows:,} rows",
            growth,
            50.0,
            unit=" MB",
            absolute=True,
            why="the RSS curve shows where it grows",
        )
    )
    part.targets.append(
        Target(
            f"iteration peak RSS growth, {it_small.rows:,} → {it_full.rows:,} users "
            "(flat, same 50 MB bar)",
            iter_growth,
            50.0,
            unit=" MB",
            absolute=True,
        )
    )
    part.lines += [
        "",
        f"Peak growth: import {imp_small.rows:,} → {imp_full.rows:,} rows: **{growth:+.1f} MB**; "
        f"iteration {it_small.rows:,} → {it_full.rows:,} users: **{iter_growth:+.1f} MB**.",
        "",
        f"The CSV files ({small:,} and {full:,} rows) were written in {written:.1f} s by the "
        f"parent, not the measured process. The served sandbox held "
        f"{imp_small.rows + imp_full.rows:,} imported users at the end, using {server_rss:,.0f} "
        f"MB; its import rate was {imp_small.rate:,.0f} rows/s for the small import and "
        f"{imp_full.rate:,.0f} rows/s for the large one (a server slowing down as it fills "
        "would show as a lower second figure). The iterations read card "
        f"{CARD_ID}'s first users after the imports (`max_items` stops them at the count).",
    ]


# ---------------------------------------------------------------------------- child


def _rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 1e6


def _ru_maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # bytes on macOS, KiB elsewhere; MB here are 10^6 bytes, like psutil's figures / 1e6
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def _peak_mb() -> float:
    """This process's own peak RSS: Linux's VmHWM, else ``ru_maxrss``.

    On Linux ``ru_maxrss`` keeps the high-water mark of the process that spawned us (the
    kernel carries it across fork and exec), so a child of a 100 MB parent reports at
    least 100 MB. VmHWM belongs to the address space exec created: ours alone.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return _ru_maxrss_mb()


async def _import(url: str, card_id: int, path: str, limit: int) -> dict[str, Any]:
    from coupontools_async import AsyncClient
    from coupontools_async.bulk import ImportProgress, read_csv

    process = psutil.Process()
    samples: list[tuple[int, float]] = []
    step = max(1, limit // 10)
    marks = iter(range(step, limit + step, step))
    mark = next(marks)

    def progress(p: ImportProgress) -> None:
        nonlocal mark
        if p.done >= mark:
            samples.append((p.done, _rss_mb(process)))
            mark = next(marks, limit + 10**9)

    async with AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=url) as ct:
        baseline, peak_before = _rss_mb(process), _peak_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        rows = itertools.islice(read_csv(path), limit)
        report = await ct.wallet_users.import_users(
            card_id, rows, concurrency=8, batch_size=100, on_progress=progress
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if report.created != limit or report.failed:
        raise RuntimeError(f"created {report.created} of {limit}, failed {len(report.failed)}")
    return {"kind": "import", "rows": limit, "wall": wall, "cpu": cpu, "baseline_mb": baseline,
            "peak_before_mb": peak_before, "samples": samples}  # fmt: skip


async def _iterate(url: str, card_id: int, count: int) -> dict[str, Any]:
    from coupontools_async import AsyncClient

    process = psutil.Process()
    samples: list[tuple[int, float]] = []
    step = max(1, count // 10)
    seen = 0
    async with AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=url) as ct:
        baseline, peak_before = _rss_mb(process), _peak_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        async for user in ct.wallet_users.iter(card_id, per_page=1000, max_items=count):
            seen += 1
            if seen % step == 0:
                samples.append((seen, _rss_mb(process)))
            del user
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if seen != count:
        raise RuntimeError(f"iterated {seen} users, expected {count}")
    return {"kind": "iterate", "rows": seen, "wall": wall, "cpu": cpu, "baseline_mb": baseline,
            "peak_before_mb": peak_before, "samples": samples}  # fmt: skip


def main(argv: list[str]) -> int:
    """The measured child: ``import URL CARD CSV LIMIT`` or ``iterate URL CARD COUNT``."""
    kind, url, card = argv[0], argv[1], int(argv[2])
    if kind == "import":
        result = asyncio.run(_import(url, card, argv[3], int(argv[4])))
    elif kind == "iterate":
        result = asyncio.run(_iterate(url, card, int(argv[3])))
    else:
        raise SystemExit(f"unknown measurement {kind!r}")
    result["peak_mb"] = _peak_mb()
    result["ru_maxrss_mb"] = _ru_maxrss_mb()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
