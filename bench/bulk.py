"""Part 3: bulk import throughput against Little's law, with 50 ms of latency per request.

The sandbox is served in another process with ``--latency 0.05``: every answer leaves
50 ms after the request arrived, and the server does not block meanwhile. With at most
``concurrency`` requests in flight, each carrying ``batch`` rows, no client can import
faster than ``concurrency × batch ÷ 0.05`` rows per second (Little's law). The figure is
the fraction of that bound ``ct.wallet_users.import_users(card, rows, concurrency=,
batch_size=)`` reaches, with a client built the default way (``AsyncClient(base_url=)``:
aiohttp on asyncio with the ``aiohttp`` extra), and per row on httpx's transport too.

References, per row: the same requests from bare aiohttp (the default backend's floor:
what no client sending through aiohttp reaches with this server on this machine) and
from bare httpx, and the import on httpx's transport (what trio users get).

Rows are generated dicts (names, unique email, E.164 phone, city, zip, a custom field),
validated by the importer like any input. Where the client's own CPU becomes the limit
before the bound, the part reports rows per CPU-second of the client process
(``time.process_time``) and a cProfile of that configuration.
"""

from __future__ import annotations

import asyncio
import cProfile
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import psutil

from coupontools_async import AsyncClient
from coupontools_async._backends import HttpBackend

from ._report import Context, Part, Target, format_profile, median, table
from ._server import AUTH_HEADERS, CLIENT_ID, CLIENT_SECRET, Server, served

__all__ = ["run"]

LATENCY = 0.05
CARD_ID = 3
_serial = itertools.count()


@dataclass
class Config:
    concurrency: int
    batch: int
    rows: int
    reps: int

    @property
    def bound(self) -> float:
        """Little's law: rows per second with every slot busy, each for one latency."""
        return self.concurrency * self.batch / LATENCY

    @property
    def label(self) -> str:
        return "per row" if self.batch == 1 else f"batch {self.batch}"


@dataclass
class Run:
    rows: int
    wall: float
    cpu: float
    server_cpu: float
    machine_busy: float
    """Share of the whole machine's CPU time that was busy (every process), 0-1."""

    @property
    def rate(self) -> float:
        return self.rows / self.wall


@dataclass
class Floors:
    """The references of one per-row concurrency (bare aiohttp at 32 and 64 only)."""

    bare: Run
    plain: Run
    aiohttp: Run | None


@dataclass
class Outcome:
    config: Config
    runs: list[Run] = field(default_factory=list)

    def med(self, name: str) -> float:
        return median(getattr(r, name) for r in self.runs)

    @property
    def rate(self) -> float:
        return median(r.rate for r in self.runs)

    @property
    def fraction(self) -> float:
        return self.rate / self.config.bound

    @property
    def cpu_load(self) -> float:
        """Client CPU seconds per wall second (1.0: one core busy all the time)."""
        return median(r.cpu / r.wall for r in self.runs)

    @property
    def server_load(self) -> float:
        return median(r.server_cpu / r.wall for r in self.runs)

    @property
    def machine_busy(self) -> float:
        return median(r.machine_busy for r in self.runs)

    @property
    def rows_per_cpu_second(self) -> float:
        return median(r.rows / r.cpu for r in self.runs)

    def limit(self) -> str:
        """What held this configuration back, from the CPU figures."""
        c = self.config
        client_row = self.med("cpu") / c.rows  # CPU seconds per row
        server_row = self.med("server_cpu") / c.rows
        if self.fraction >= 0.9:
            return "latency (at the bound)"
        # CPU-seconds per second each side would need to run at the bound.
        needs = [
            (side, c.bound * per_row, per_row)
            for side, per_row in (("client", client_row), ("server", server_row))
            if c.bound * per_row > 1.0
        ]
        if needs:
            return "; ".join(
                f"{side} CPU: the bound needs {cores:.1f} cores of it at "
                f"{per_row * 1e6:,.0f} µs per row, and one process has 1"
                for side, cores, per_row in needs
            )
        if self.machine_busy >= 0.85:
            return "the machine's CPU: both cores busy (client, server, other work)"
        if self.cpu_load >= 0.6:
            return (
                f"queueing in the client's event loop: busy {self.cpu_load:.0%} of the time "
                f"({client_row * c.batch * 1e6:,.0f} µs per request), so answers that arrive "
                "together wait their turn"
            )
        return (
            f"CPU time on top of the {LATENCY * 1000:.0f} ms: client "
            f"{client_row * c.batch * 1e3:.1f} ms + server {server_row * c.batch * 1e3:.1f} ms "
            "per request"
        )


def _configs(quick: bool) -> list[Config]:
    if quick:
        return [
            Config(1, 1, 10, 1),
            Config(8, 1, 40, 1),
            Config(32, 1, 96, 1),
            Config(64, 1, 192, 1),
            Config(1, 100, 200, 1),
            Config(8, 100, 1_600, 1),
            Config(32, 100, 3_200, 1),
            Config(64, 100, 6_400, 1),
        ]
    return [
        Config(1, 1, 100, 3),  # bound 20 rows/s: 5 s a run
        Config(8, 1, 640, 3),  # bound 160 rows/s: 4 s
        # The two targets: 4 s and 3 s runs, so the steady state the bound describes (every
        # slot busy) outweighs the first wave, the last and the import's start and end.
        Config(32, 1, 2_560, 3),  # bound 640 rows/s: 4 s (more when the client CPU limits)
        Config(64, 1, 3_840, 3),  # bound 1,280 rows/s: 3 s (idem)
        Config(1, 100, 5_000, 3),  # bound 2,000 rows/s: 2.5 s
        Config(8, 100, 10_000, 3),
        Config(32, 100, 10_000, 3),
        Config(64, 100, 10_000, 3),
    ]


def rows(count: int) -> Iterator[dict[str, Any]]:
    """``count`` valid user rows with emails unique across the whole run."""
    tag = next(_serial)
    for number in range(count):
        yield {
            "first_name": f"Ann{number}",
            "last_name": "Peeters",
            "email": f"bulk{tag}.{number}@example.com",
            "phone": f"+3247{number % 10**7:07d}",
            "city": "Ghent",
            "zip": "9000",
            "custom_1": "latte",
        }


def run(ctx: Context) -> Part:
    """Run part 3 and describe it."""
    part = Part("bulk", "3. Bulk import throughput (50 ms latency per request)")
    configs = _configs(ctx.quick)
    smaller = [c for c in configs if c.rows < 10_000]
    if smaller and not ctx.quick:
        part.notes.append(
            "Bulk: fewer than 10,000 rows where the Little's-law bound is slow or the run "
            "would not fit the budget — "
            + ", ".join(f"{c.label} at concurrency {c.concurrency}: {c.rows:,}" for c in smaller)
            + " rows per run."
        )
    with served("--sessions", "0", "--latency", str(LATENCY)) as server:
        outcomes, floors, profiles = asyncio.run(_bench(server, configs, ctx, part))
    _describe(part, outcomes, floors, profiles)
    return part


async def _bench(
    server: Server, configs: list[Config], ctx: Context, part: Part
) -> tuple[list[Outcome], dict[int, Floors], list[list[str]]]:
    budget = ctx.budget("bulk")
    started = time.perf_counter()
    outcomes = [Outcome(config) for config in configs]
    rounds = max(config.reps for config in configs)
    # Rounds: every configuration once per round, so all get the same number of runs and
    # drifting load hits them alike. A quarter of the budget stays for the references and
    # the profiles below; a round starts only if it should end within the rest.
    for round_number in range(rounds):
        round_started = time.perf_counter()
        for outcome in outcomes:
            if round_number < outcome.config.reps:
                config = outcome.config
                outcome.runs.append(await _import(server, config, config.rows))
        spent = time.perf_counter() - started
        last = time.perf_counter() - round_started
        if round_number + 1 < rounds and spent + last > budget * 0.75:
            part.notes.append(
                f"Bulk: {round_number + 1} run(s) of each configuration instead of {rounds} "
                f"(a round took {last:.0f} s; the part's budget is {budget:.0f} s)."
            )
            break

    # The floor: the same one-row requests from bare httpx, no library (per row only), and
    # the library on its other backend, httpx's own transport (what trio users get).
    # And bare aiohttp, the floor of the default backend: what no client sending through
    # aiohttp reaches on this machine and server, at the two target concurrencies. The
    # references run 1,280 rows at most: on httpx's transport they are several times slower.
    floors: dict[int, Floors] = {}
    for outcome in outcomes:
        config = outcome.config
        if config.batch == 1 and config.concurrency > 1:
            count = min(config.rows, 1_280)
            bare = await _bare(server, config, count)
            plain = await _import(server, config, count, backend="httpx")
            # As many rows as the target's runs: the floor is compared with them directly.
            aio = (
                await _bare_aiohttp(server, config, config.rows)
                if config.concurrency >= 32
                else None
            )
            floors[config.concurrency] = Floors(bare, plain, aio)

    # Profiles: the per-row configuration of the target at 32, and the busiest batched one.
    profiles = []
    per_row = next(o for o in outcomes if o.config.batch == 1 and o.config.concurrency == 32)
    batched = max(
        (o for o in outcomes if o.config.batch > 1), key=lambda o: o.cpu_load, default=None
    )
    for outcome in [per_row] if batched is None else [per_row, batched]:
        config = outcome.config
        count = min(config.rows, 500 if config.batch == 1 else 5_000)
        profiler = cProfile.Profile()
        sample = await _import(server, config, count, profiler)
        title = (
            f"cProfile of the client, {config.label} at concurrency {config.concurrency} "
            f"({count:,} rows; {sample.rate:,.0f} rows/s under the profiler)"
        )
        profiles.append(format_profile(profiler, title=title))
    return outcomes, floors, profiles


async def _import(
    server: Server,
    config: Config,
    count: int,
    profiler: cProfile.Profile | None = None,
    backend: HttpBackend = "auto",
) -> Run:
    async with AsyncClient(
        CLIENT_ID, CLIENT_SECRET, base_url=server.url, http_backend=backend
    ) as ct:
        # Open the connections first: the figure is the steady state, not the handshakes.
        await asyncio.gather(*(ct.wallet_cards.list() for _ in range(config.concurrency)))
        server_before, machine_before = server.cpu_seconds(), psutil.cpu_times()
        wall_before, cpu_before = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        try:
            report = await ct.wallet_users.import_users(
                CARD_ID, rows(count), concurrency=config.concurrency, batch_size=config.batch
            )
        finally:
            if profiler is not None:
                profiler.disable()
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
        server_cpu = server.cpu_seconds() - server_before
        busy = _busy(machine_before, psutil.cpu_times())
    if report.created != count or report.failed:
        raise RuntimeError(
            f"import of {count} rows created {report.created}, failed {len(report.failed)}: "
            f"{report.failed[:3]}"
        )
    return Run(count, wall, cpu, server_cpu, busy)


async def _bare(server: Server, config: Config, count: int) -> Run:
    """The same one-row create requests from a bare httpx client: the transport's floor."""
    url = f"{server.url}/v4/loyalty/loyalty-cards/{CARD_ID}/stats/bulk"
    headers = {**AUTH_HEADERS, "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30.0) as http:
        cards = server.url + "/v4/loyalty/loyalty-cards"
        await asyncio.gather(*(http.get(cards, headers=headers) for _ in range(config.concurrency)))
        limiter = asyncio.Semaphore(config.concurrency)

        async def send(row: dict[str, Any]) -> None:
            async with limiter:
                response = await http.post(url, headers=headers, content=json.dumps([row]))
                if response.status_code != 200:
                    raise RuntimeError(f"bare httpx got {response.status_code}: {response.text}")
                json.loads(response.content)

        return await _rows_sent(server, count, send)


async def _bare_aiohttp(server: Server, config: Config, count: int) -> Run:
    """The same one-row create requests from a bare aiohttp session: aiohttp's floor."""
    url = f"{server.url}/v4/loyalty/loyalty-cards/{CARD_ID}/stats/bulk"
    headers = {**AUTH_HEADERS, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        cards = server.url + "/v4/loyalty/loyalty-cards"

        async def warm() -> None:
            async with http.get(cards, headers=headers) as response:
                await response.read()

        await asyncio.gather(*(warm() for _ in range(config.concurrency)))
        limiter = asyncio.Semaphore(config.concurrency)

        async def send(row: dict[str, Any]) -> None:
            async with limiter, http.post(url, headers=headers, data=json.dumps([row])) as answer:
                body = await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"bare aiohttp got {answer.status}: {body[:200]!r}")
                json.loads(body)

        return await _rows_sent(server, count, send)


async def _rows_sent(
    server: Server, count: int, send: Callable[[dict[str, Any]], Awaitable[None]]
) -> Run:
    """Send ``count`` generated rows at once through ``send``, measured as a Run."""
    server_before, machine_before = server.cpu_seconds(), psutil.cpu_times()
    wall_before, cpu_before = time.perf_counter(), time.process_time()
    await asyncio.gather(*(send(row) for row in rows(count)))
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    server_cpu = server.cpu_seconds() - server_before
    return Run(count, wall, cpu, server_cpu, _busy(machine_before, psutil.cpu_times()))


def _busy(before: Any, after: Any) -> float:
    """Share of all cores' time spent busy between two ``psutil.cpu_times()``."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0) - getattr(before, "iowait", 0))
    return 1.0 - idle / total if total > 0 else 0.0


def _describe(
    part: Part,
    outcomes: list[Outcome],
    floors: dict[int, Floors],
    profiles: list[list[str]],
) -> None:
    part.lines += [
        f"Each line: one configuration, its rows imported into card {CARD_ID} of a sandbox "
        f"served with `--latency {LATENCY}`, median of the runs. *Bound* is concurrency × "
        f"batch ÷ {LATENCY} s. *Client CPU* and *server CPU* are CPU-seconds per wall-second "
        "of each process (1.0 = one core busy throughout); *machine busy* is the share of "
        "both cores busy with anything (ours, the server, other work on the machine).",
        "",
    ]
    rows_out = []
    for o in outcomes:
        c = o.config
        rows_out.append(
            (
                c.label,
                c.concurrency,
                f"{c.rows:,} × {len(o.runs)}",
                f"{o.rate:,.0f}",
                f"{c.bound:,.0f}",
                f"**{o.fraction:.2f}**",
                f"{o.cpu_load:.2f}",
                f"{o.rows_per_cpu_second:,.0f}",
                f"{o.med('cpu') / c.rows * 1e6:,.0f}",
                f"{o.med('server_cpu') / c.rows * 1e6:,.0f}",
                f"{o.server_load:.2f}",
                f"{o.machine_busy:.2f}",
                o.limit(),
            )
        )
    part.lines += table(
        [
            "mode",
            "concurrency",
            "rows × runs",
            "rows/s",
            "bound rows/s",
            "fraction",
            "client CPU",
            "rows per client CPU-s",
            "client CPU µs/row",
            "server CPU µs/row",
            "server CPU",
            "machine busy",
            "limited by",
        ],
        rows_out,
    )
    if floors:
        part.lines += [
            "",
            "Per row, against three references, one run each: **bare aiohttp** (at 32 and 64, "
            "as many rows as the target's runs) — the same requests from a bare "
            "`aiohttp.ClientSession` under a semaphore, `json.loads` of each answer: the "
            "floor of the default backend, "
            "what no client sending through aiohttp reaches on this machine and server; "
            "**bare httpx** (up to 1,280 rows, as the next) — the same one-row "
            "`POST .../stats/bulk` requests from a bare `httpx.AsyncClient` (httpx's default "
            "pool: 100 connections, 20 kept alive) under a semaphore of the same size, "
            "`json.loads` of each answer, no validation, no models: what bare httpx cannot "
            "reach, no client on httpx's transport can; and **ours on httpx's transport** — "
            'the same import with `AsyncClient(http_backend="httpx")`, what trio users '
            "(and anyone without the `aiohttp` extra) get. *Ours, default* is aiohttp. CPU "
            "is the client's µs per row.",
            "",
        ]
        floor_rows = []
        for o in outcomes:
            c = o.config
            found = floors.get(c.concurrency) if c.batch == 1 else None
            if found is None:
                continue
            bare, plain, aio = found.bare, found.plain, found.aiohttp
            ours_cpu = o.med("cpu") / c.rows
            floor_rows.append(
                (
                    c.concurrency,
                    "—" if aio is None else f"{aio.rate:,.0f} ({aio.rate / c.bound:.2f})",
                    "—" if aio is None else f"{aio.cpu / aio.rows * 1e6:,.0f}",
                    f"{bare.rate:,.0f} ({bare.rate / c.bound:.2f})",
                    f"{bare.cpu / bare.rows * 1e6:,.0f}",
                    f"{o.rate:,.0f} ({o.fraction:.2f})",
                    f"{ours_cpu * 1e6:,.0f}",
                    f"{plain.rate:,.0f} ({plain.rate / c.bound:.2f})",
                    f"{plain.cpu / plain.rows * 1e6:,.0f}",
                    f"{ours_cpu / (bare.cpu / bare.rows):.2f}",
                    f"{ours_cpu / (plain.cpu / plain.rows):.2f}",
                )
            )
        part.lines += table(
            [
                "per row, concurrency",
                "bare aiohttp rows/s (÷ bound)",
                "CPU µs/row",
                "bare httpx rows/s (÷ bound)",
                "CPU µs/row",
                "ours, default client rows/s (÷ bound)",
                "CPU µs/row",
                "ours on httpx's transport rows/s (÷ bound)",
                "CPU µs/row",
                "CPU: ours ÷ bare",
                "CPU: ours default ÷ on httpx's transport",
            ],
            floor_rows,
        )
    for o in outcomes:
        c = o.config
        if c.batch == 1 and c.concurrency in (32, 64):
            found = floors.get(c.concurrency)
            why = (
                f"limited by {o.limit()} (measured: client CPU {o.cpu_load:.2f}, server CPU "
                f"{o.server_load:.2f}, machine busy {o.machine_busy:.2f})"
            )
            if found is not None:
                bare, plain, aio = found.bare, found.plain, found.aiohttp
                if aio is not None:
                    why += (
                        f"; bare aiohttp, no library at all, reaches {aio.rate / c.bound:.2f} "
                        f"({aio.cpu / aio.rows * 1e6:,.0f} µs of client CPU per request)"
                    )
                why += (
                    f"; bare httpx reaches {bare.rate / c.bound:.2f} of the bound with the same "
                    f"requests ({bare.cpu / bare.rows * 1e6:,.0f} µs of client CPU per "
                    f"request against our {o.med('cpu') / c.rows * 1e6:,.0f}), our client on "
                    f"httpx's transport {plain.rate / c.bound:.2f} "
                    f"({plain.cpu / plain.rows * 1e6:,.0f} µs)"
                )
            part.targets.append(
                Target(
                    f"bulk per-row throughput at concurrency {c.concurrency} "
                    "(fraction of Little's-law bound)",
                    o.fraction,
                    0.9,
                    higher_is_better=True,
                    why=why + "; profile in part 3",
                )
            )
    part.lines += [
        "",
        "Row counts: the issue's 10,000 where a run takes a few seconds at the bound; per "
        "row the bound itself is slow (20 rows/s at concurrency 1), so those use fewer rows "
        "(the table says how many), and the two targets (32 and 64) runs of 3-4 s at the "
        "bound, so that the steady state outweighs the first and last waves and the "
        "import's start and end. Every run's report was checked: every row created, none "
        "failed.",
    ]
    for profile in profiles:
        part.lines += ["", *profile]
