"""Part 6: the import journal on resume: load time and memory for 1,000,000 rows, and requests.

Two measurements (issue 10):

- **A 1,000,000-row journal.** The parent writes one (999,200 rows done, 800 in flight:
  eight batches of 100 on the wire when the run died). A fresh subprocess
  (``python -m bench.journal load PATH``) opens it as a resume does and reports the time
  to open it (the "load": lock, header check, the next run's number), the time of the
  whole resume pass over the 1,000,000 input rows (fingerprint and look-up of each, as the
  importer's producer does), and its peak RSS (Linux ``VmHWM``) against its RSS before
  the journal was opened. Targets: under 1 s to load, under 20 MB of growth.
- **Requests on resume against the import's.** In process, a sandbox answering every
  request after 20 ms: import 5,000 rows (batches of 100, concurrency 8) with a journal,
  mark the last 800 rows "in flight", resume: its requests are the existence checks of
  those 800 rows, in parallel within the concurrency bound.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio

from ._report import Context, Part, Target, table

__all__ = ["main", "run"]

TARGET = "sandbox.coupontools.invalid/wallet/1"
IN_FLIGHT = 800


def _row(n: int) -> dict[str, Any]:
    return {"first_name": f"User{n}", "email": f"user{n}@example.com"}


def build(path: Path, rows: int) -> float:
    """Write a journal of ``rows`` rows, the last ``IN_FLIGHT`` in flight; seconds taken."""
    from coupontools_async._journal import Journal, fingerprint

    started = time.perf_counter()
    journal = Journal(path, target=TARGET)
    journal.open()
    chunk: list[tuple[bytes, int]] = []
    done = rows - IN_FLIGHT
    for n in range(1, rows + 1):
        chunk.append((fingerprint(_row(n)), n + 1))
        if len(chunk) == 10_000 or n in (done, rows):
            journal.mark(chunk, "created" if n <= done else "sending")
            chunk = []
    journal.close()
    return time.perf_counter() - started


def _vm(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def load(path: Path, rows: int) -> dict[str, float]:
    """Open the journal as a resume does, then look every input row up; timings and RSS."""
    from coupontools_async._journal import DONE, Journal, fingerprint

    before = _vm("VmRSS")
    started = time.perf_counter()
    journal = Journal(path, target=TARGET)
    journal.open()
    opened = time.perf_counter() - started
    after_open = _vm("VmRSS")
    skipped = in_flight = 0
    for n in range(1, rows + 1):
        seen = journal.lookup(fingerprint(_row(n)))
        if seen is not None and seen.status in DONE:
            skipped += 1
        elif seen is not None:
            in_flight += 1
    passed = time.perf_counter() - started
    journal.close()
    return {
        "load_s": opened,
        "pass_s": passed,
        "rss_before_mb": before,
        "rss_after_open_mb": after_open,
        "peak_mb": _vm("VmHWM"),
        "skipped": skipped,
        "in_flight": in_flight,
    }


async def requests(tmp: Path, rows: int) -> dict[str, float]:
    """Import ``rows`` with a journal, mark the last ``IN_FLIGHT`` in flight, resume."""
    from coupontools_async import RetryPolicy
    from coupontools_async.sandbox import Sandbox

    async def no_sleep(_: float) -> None:
        await anyio.lowlevel.checkpoint()

    sandbox = Sandbox()
    card = sandbox.state.wallet.new_card(name="Bench", type="stamp", reward_name="Coffee")
    sandbox.faults.latency(0.02)
    path = tmp / "requests.journal"
    data = [_row(n) for n in range(rows)]
    async with sandbox.client(retry=RetryPolicy(sleep=no_sleep)) as ct:
        started = time.perf_counter()
        await ct.wallet_users.import_users(int(card.id), data, journal=path)
        imported = time.perf_counter() - started
        calls_before = sum(sandbox.calls.values())
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE rows SET status = 'sending' WHERE line > ?", (rows - IN_FLIGHT,))
        started = time.perf_counter()
        report = await ct.wallet_users.import_users(int(card.id), data, journal=path)
        resumed = time.perf_counter() - started
    return {
        "import_s": imported,
        "resume_s": resumed,
        "resume_requests": sum(sandbox.calls.values()) - calls_before,
        "created": report.created,
        "skipped": report.skipped,
        "users": len(card.users),
    }


def run(ctx: Context) -> Part:
    """Run part 6 and describe it."""
    part = Part("journal", "6. Import journal on resume")
    rows = 20_000 if ctx.quick else 1_000_000
    path = ctx.tmp / "big.journal"
    built = build(path, rows)
    child = subprocess.run(
        [sys.executable, "-m", "bench.journal", "load", str(path), str(rows)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    measured = json.loads(child.stdout)
    growth = measured["peak_mb"] - measured["rss_before_mb"]
    size_mb = path.stat().st_size / 1e6
    req = anyio.run(requests, ctx.tmp, 1000 if ctx.quick else 5000)
    part.targets += [
        Target(f"journal load ({rows:,} rows)", measured["load_s"], 1.0, unit=" s"),
        Target(f"RSS growth on resume ({rows:,} rows)", growth, 20.0, unit=" MB", absolute=True),
    ]
    part.lines += [
        f"A {rows:,}-row journal ({size_mb:.0f} MB on disk, written in {built:.1f} s) opens in "
        f"{measured['load_s'] * 1000:.0f} ms: nothing is read into memory, each input row is "
        f"looked up as it comes. The whole resume pass over {rows:,} rows (fingerprint and "
        f"look-up each) takes {measured['pass_s']:.1f} s, and the process's peak RSS grows "
        f"by {growth:.1f} MB over its RSS before the journal was opened "
        f"({measured['rss_before_mb']:.0f} → peak {measured['peak_mb']:.0f} MB). "
        f"It found {measured['skipped']:,} rows done and {measured['in_flight']:,} in flight.",
        "",
    ]
    part.lines += table(
        ["", "seconds", "requests"],
        [
            (f"import of {req['users']:,} rows (batches of 100, concurrency 8)",
             f"{req['import_s']:.2f}", f"{req['users'] // 100}"),
            (f"resume with {IN_FLIGHT} rows in flight (existence checks in parallel)",
             f"{req['resume_s']:.2f}", f"{req['resume_requests']:.0f}"),
        ],
    )  # fmt: skip
    part.lines += [
        "",
        f"Against a sandbox answering after 20 ms. The resume found all {IN_FLIGHT} in-flight "
        f"rows on the server and sent nothing again ({req['created']:.0f} settled as "
        f"created, {req['skipped']:.0f} skipped). Each check is one keyword search per "
        "row, eight at once: the resume's requests cost "
        f"{req['resume_s'] / req['import_s']:.1f}× the import's time, against 20× before "
        "(one check at a time).",
        "",
    ]
    if ctx.quick:
        part.notes.append(f"quick run: {rows:,} rows instead of 1,000,000")
    return part


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.journal load PATH ROWS``: the child side of the load measurement."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "load":
        print("usage: python -m bench.journal load PATH ROWS", file=sys.stderr)
        return 2
    print(json.dumps(load(Path(args[1]), int(args[2]))))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
