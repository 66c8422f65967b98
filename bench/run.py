"""The benchmark driver: run every part, write bench/RESULTS.md.

::

    python -m bench.run            # the full suite (under 10 minutes on 2 cores), RESULTS.md
    python -m bench.run --quick    # tiny sizes, under a minute: checks the harness works
    python -m bench.run --only overhead,decoding --output /tmp/partial.md

A quick run writes bench/RESULTS.quick.md (git-ignored) unless ``--output`` says
otherwise, so it never overwrites the real figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from . import bulk, decoding, importtime, journal, memory, overhead
from ._report import Context, Part, table

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
PARTS: dict[str, Callable[[Context], Part]] = {
    "importtime": importtime.run,
    "decoding": decoding.run,
    "overhead": overhead.run,
    "bulk": bulk.run,
    "memory": memory.run,
    "journal": journal.run,
}
ORDER = ("overhead", "decoding", "bulk", "memory", "importtime", "journal")
"""The order of the sections in RESULTS.md (the issue's); the parts run in PARTS' order."""
BUDGETS = {
    # They add up to LIMIT: a part is given what is left less what the later ones plan,
    # so plans over the limit squeezed the early parts (decoding got 9 s, 8 repetitions).
    "importtime": 15.0,
    "decoding": 30.0,
    "overhead": 165.0,
    "bulk": 125.0,
    "memory": 200.0,
    "journal": 35.0,
}
QUICK_BUDGETS = {
    "importtime": 8.0,
    "decoding": 8.0,
    "overhead": 12.0,
    "bulk": 14.0,
    "memory": 12.0,
    "journal": 8.0,
}
LIMIT, QUICK_LIMIT = 570.0, 55.0
"""Seconds the whole run must fit in (the issue: under 10 minutes), with some margin."""
PACKAGES = (
    "coupontools-async",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "attrs",
    "cattrs",
    "pydantic",
    "pydantic-core",
    "msgspec",
    "orjson",
    "openapi-python-client",
    "uvicorn",
    "httptools",
    "uvloop",
    "aiohttp",
    "httpx-aiohttp",
    "psutil",
)


def main(argv: list[str] | None = None) -> int:
    """Run the suite; 0 when every part ran (missed targets are results, not failures)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the harness")
    parser.add_argument("--only", default="", help="comma-separated parts: " + ", ".join(PARTS))
    parser.add_argument("--output", type=Path, default=None, help="where to write the results")
    args = parser.parse_args(argv)
    wanted = [p.strip() for p in args.only.split(",") if p.strip()] or list(PARTS)
    unknown = sorted(set(wanted) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    output: Path = args.output or HERE / ("RESULTS.quick.md" if args.quick else "RESULTS.md")

    os.chdir(HERE.parent)  # the memory part's children run `python -m bench.memory`
    planned = QUICK_BUDGETS if args.quick else BUDGETS
    limit = QUICK_LIMIT if args.quick else LIMIT
    ctx = Context.scratch(args.quick, dict(planned))
    started_at = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    started = time.perf_counter()
    parts: list[Part] = []
    keys = [k for k in PARTS if k in wanted]
    try:
        for index, key in enumerate(keys):
            elapsed = time.perf_counter() - started
            # What is left of the run's limit, less what the parts after this one plan to use.
            later = sum(planned[k] for k in keys[index + 1 :])
            ctx.budgets[key] = max(planned[key] * 0.3, min(planned[key], limit - elapsed - later))
            print(f"[{elapsed:6.1f} s] {key} ...", file=sys.stderr, flush=True)
            part_started = time.perf_counter()
            try:
                part = PARTS[key](ctx)
            except Exception:
                part = Part(key, key, error=traceback.format_exc())
            part.seconds = time.perf_counter() - part_started
            part.budget = ctx.budget(key)
            parts.append(part)
            state = "FAILED" if part.error else "done"
            print(f"         {key} {state} in {part.seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    total = time.perf_counter() - started
    load_end = os.getloadavg()
    parts.sort(key=lambda p: ORDER.index(p.key))
    text = render(parts, args.quick, started_at, load_start, load_end, total)
    output.write_text(text, encoding="utf-8")
    print(f"[{total:6.1f} s] wrote {output}", file=sys.stderr)
    _print_targets(parts)
    return 1 if any(p.error for p in parts) else 0


def _print_targets(parts: list[Part]) -> None:
    for part in parts:
        if part.error:
            print(f"{part.key}: FAILED\n{part.error}", file=sys.stderr)
        for target in part.targets:
            verdict = "pass" if target.met else "MISS"
            print(f"  {verdict}  {target.name}: {target.value:.3f} ({target.margin()})")


# -------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _os_name() -> str:
    pretty = ""
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    pretty = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    base = f"{platform.system()} {platform.release()} ({platform.machine()})"
    return f"{pretty}, {base}" if pretty else base


def _versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def machine_rows(load_start: tuple[float, ...], load_end: tuple[float, ...]) -> list[str]:
    """The machine, software and load, as a markdown table."""
    physical = psutil.cpu_count(logical=False)
    ram = psutil.virtual_memory().total / 2**30
    loads = (
        ("load average at start (1, 5, 15 min)", load_start),
        ("load average at end (1, 5, 15 min)", load_end),
    )
    rows = [
        ("CPU", f"{_cpu_model()}: {os.cpu_count()} logical cores, {physical} physical"),
        ("RAM", f"{ram:.1f} GiB"),
        ("OS", _os_name()),
        (
            "Python",
            f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        ),
        ("packages", _versions()),
        *((label, ", ".join(f"{v:.2f}" for v in values)) for label, values in loads),
    ]
    return table(["", ""], rows)


# --------------------------------------------------------------------------- report


def _target_rows(parts: list[Part]) -> list[str]:
    rows = []
    for part in parts:
        for t in part.targets:
            limit = f"{'≥' if t.higher_is_better else '≤'} {t.limit:g}{t.unit}"
            verdict = "**pass**" if t.met else "**MISS**"
            rows.append(
                (
                    t.name,
                    f"{t.value:.3f}{t.unit}",
                    limit,
                    verdict,
                    t.margin(),
                    "" if t.met else t.why,
                )
            )
    return table(["target", "measured", "limit", "verdict", "by how much", "why (misses)"], rows)


def render(
    parts: list[Part],
    quick: bool,
    started_at: datetime,
    load_start: tuple[float, ...],
    load_end: tuple[float, ...],
    total: float,
) -> str:
    """RESULTS.md."""
    mode = (
        "**quick run** (`--quick`): tiny sizes that only check the harness works — not "
        "figures to quote"
        if quick
        else "full run"
    )
    lines = [
        "# coupontools_async benchmarks: results",
        "",
        f"Written by `python -m bench.run` on {started_at:%Y-%m-%d %H:%M} UTC; {mode}. "
        f"Took {total:.0f} s. Every figure is a median over repeated runs, and every "
        "comparison a ratio against a baseline measured in the same run (bench/README.md "
        "explains each). A load average above the core count means other work shared the "
        "machine: the absolute figures are then slower and noisier, the ratios less so.",
        "",
        "## Machine",
        "",
        *machine_rows(load_start, load_end),
        "",
        "## Targets",
        "",
        *_target_rows(parts),
        "",
        "## Time per part",
        "",
        *table(
            ["part", "seconds", "budget"],
            [(p.title, f"{p.seconds:.0f}", f"{p.budget:.0f}") for p in parts],
        ),
        "",
    ]
    notes = [note for p in parts for note in p.notes]
    lines += ["## Scaled down or changed", ""]
    lines += [f"- {note}" for note in notes] or ["- Nothing: every part ran at its planned size."]
    lines.append("")
    for part in parts:
        lines += [f"## {part.title}", ""]
        if part.error:
            lines += ["**This part failed:**", "", "```", part.error.rstrip(), "```", ""]
            continue
        lines += [*part.lines, ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.exit(main())
