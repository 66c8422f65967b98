"""Part 5: how long ``import coupontools_async`` takes, against ``import httpx`` alone.

Each measurement is a fresh ``python -c`` process timing its own import with
``time.perf_counter()`` around the import statement (interpreter start-up excluded);
the two are interleaved, medians of the runs. Bytecode: this container runs with
``PYTHONDONTWRITEBYTECODE=1``, under which an editable install never gets cached
bytecode and every import would compile the package from source. So the children run
with a private ``PYTHONPYCACHEPREFIX`` in the run's temporary directory (nothing is
written next to the sources): one discarded run compiles, the measured ones read the
cache, as after a ``pip install``. The same is measured without a cache too (compiling
from source each time). ``python -X importtime`` names the slowest modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ._report import Context, Part, Target, median, spread, table

__all__ = ["run"]

MODULES = ("httpx", "coupontools_async")
SNIPPET = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
ROOT = Path(__file__).resolve().parent.parent


def _env(cache: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONPYCACHE")}
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _once(module: str, env: dict[str, str]) -> tuple[float, float]:
    """(seconds inside the import statement, seconds of the whole process)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(module)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    whole = time.perf_counter() - started
    return float(done.stdout.strip().splitlines()[-1]), whole


def _help_once(env: dict[str, str]) -> float:
    """Seconds of a whole ``coupontools --help`` process (what a user waits for)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "coupontools_async", "--help"],
        capture_output=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return time.perf_counter() - started


def _help_against_httpx(runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Whole-process seconds of ``coupontools --help`` and of ``python -c 'import httpx'``,
    interleaved in fresh processes."""
    _help_once(env)
    helps, imports = [], []
    for _ in range(runs):
        helps.append(_help_once(env))
        imports.append(_once("httpx", env)[1])
    return helps, imports


def _series(runs: int, env: dict[str, str]) -> dict[str, list[tuple[float, float]]]:
    for module in MODULES:  # compile into the cache / warm the OS file cache
        _once(module, env)
    found: dict[str, list[tuple[float, float]]] = {m: [] for m in MODULES}
    for rep in range(runs):
        order = MODULES if rep % 2 == 0 else MODULES[::-1]
        for module in order:
            found[module].append(_once(module, env))
    return found


def _importtime(module: str, env: dict[str, str]) -> list[tuple[int, int, str]]:
    """(own µs, cumulative µs, module) of every module ``import module`` loads."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    entries = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        entries.append((int(self_us), int(cumulative_us), name.strip()))
    return entries


def _offenders(env: dict[str, str], top: int = 12) -> list[str]:
    """The slowest modules ``import coupontools_async`` loads beyond what httpx loads."""
    under_httpx = {name for _, _, name in _importtime("httpx", env)}
    entries = _importtime("coupontools_async", env)
    extra = [e for e in entries if e[2] not in under_httpx]
    own = sorted(extra, key=lambda e: e[0], reverse=True)[:top]
    rows = [(f"`{name}`", f"{s / 1000:.1f}", f"{c / 1000:.1f}") for s, c, name in own]
    total = sum(e[0] for e in entries) / 1000
    added = sum(e[0] for e in extra) / 1000
    ours = sum(e[0] for e in extra if e[2].startswith("coupontools_async")) / 1000
    lines = [
        f"`python -X importtime -c 'import coupontools_async'` (cached bytecode; -X importtime "
        f"itself slows imports): {total:.0f} ms of imports in all, {added:.0f} ms in "
        f"{len(extra)} modules that `import httpx` does not load, {ours:.0f} ms of that in "
        f"coupontools_async's own modules. `import httpx` includes its command line (click, "
        "rich, pygments) because those are installed here (typer, the cli extra); httpx "
        f"imports it whenever it can. The {top} slowest of the added modules, by own time:",
        "",
    ]
    return lines + table(["module", "own ms", "cumulative ms"], rows)


def run(ctx: Context) -> Part:
    """Run part 5 and describe it."""
    part = Part("importtime", "5. Import time")
    runs = 3 if ctx.quick else 11
    cached = _series(runs, _env(ctx.tmp / "pycache"))
    cold = _series(max(3, runs // 2), _env(None))
    rows = []
    for label, series in (("cached bytecode", cached), ("no bytecode cache", cold)):
        httpx_s = median(t for t, _ in series["httpx"])
        ours_s = median(t for t, _ in series["coupontools_async"])
        for module in MODULES:
            values = [t for t, _ in series[module]]
            whole = median(w for _, w in series[module])
            rows.append(
                (
                    label,
                    f"`import {module}`",
                    len(values),
                    f"{median(values) * 1000:.0f}",
                    spread(values, 1000),
                    f"{whole * 1000:.0f}",
                    f"{median(values) / httpx_s:.2f}" if module != "httpx" else "1.00",
                )
            )
        if label == "cached bytecode":
            part.lines += [
                f"With cached bytecode, `import coupontools_async` takes {ours_s * 1000:.0f} ms, "
                f"{ours_s / httpx_s:.2f}× `import httpx` alone ({httpx_s * 1000:.0f} ms); the "
                f"library's own share (its modules, attrs, anyio, ...) is "
                f"{(ours_s - httpx_s) * 1000:.0f} ms.",
                "",
            ]
            paired = [
                a / b
                for (a, _), (b, _) in zip(series["coupontools_async"], series["httpx"], strict=True)
            ]
            part.targets.append(
                Target(
                    "`import coupontools_async` ÷ `import httpx` (cached bytecode)",
                    ours_s / httpx_s,
                    1.3,
                    unit="×",
                    spread=(min(paired), max(paired)),
                    why="the modules of the table below, imported eagerly (part 5)",
                )
            )
    part.lines += table(
        ["bytecode", "statement", "runs", "median ms", "min–max", "whole process ms", "÷ httpx"],
        rows,
    )
    helps, imports = _help_against_httpx(runs, _env(ctx.tmp / "pycache"))
    help_s, httpx_whole = median(helps), median(imports)
    part.targets.append(
        Target(
            "`coupontools --help` ÷ `python -c 'import httpx'` (whole processes)",
            help_s / httpx_whole,
            2.0,
            unit="×",
            spread=(
                min(h / i for h, i in zip(helps, imports, strict=True)),
                max(h / i for h, i in zip(helps, imports, strict=True)),
            ),
            why="the command imports the library, typer and rich before it prints (part 5)",
        )
    )
    part.lines += [
        "",
        f"`coupontools --help` (`python -m coupontools_async --help`, a fresh process, cached "
        f"bytecode) takes {help_s * 1000:.0f} ms ({spread(helps, 1000)}), "
        f"{help_s / httpx_whole:.2f}× a whole `python -c 'import httpx'` process "
        f"({httpx_whole * 1000:.0f} ms), {len(helps)} runs of each, interleaved.",
        "",
        *_offenders(_env(ctx.tmp / "pycache")),
    ]
    return part
