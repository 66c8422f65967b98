"""Part 1: per-call overhead of ``wallet_users.get`` against a sandbox served on loopback.

The same ``GET /v4/loyalty/loyalty-cards/{card}/stats/{user}`` is made N times by:

(a)  a bare ``httpx.AsyncClient``: a hand-built request with the two auth header pairs,
     and ``json.loads`` of the body (the floor: what any client must at least do);
(b)  coupontools_async built the default way (``AsyncClient(base_url=,
     max_connections=32)``): on asyncio with the ``aiohttp`` extra, through aiohttp;
(b′) the same with ``http_backend="httpx"``: httpx's own transport, what trio users get;
(c)  the client openapi-python-client generates from our spec (``Client(headers=...)``).

All four allow 32 connections and the same timeout. The
server is ``coupontools sandbox serve`` (uvicorn) in another process. Each client is warmed
up first; then each repetition runs every client sequentially and at 32 concurrent (a
semaphore of 32 over the N calls), in an order rotated per repetition so load drifts hit
all of them alike. Figures are medians over the repetitions.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx

from coupontools_async import AsyncClient

from ._peer import Peer, peer
from ._report import (
    Context,
    DiffProfile,
    Part,
    Target,
    diff_profile,
    median,
    package_shares,
    share,
    spread,
    table,
)
from ._server import AUTH_HEADERS, CLIENT_ID, CLIENT_SECRET, Server, served

__all__ = ["run"]

CONCURRENCY = 32
LIMITS = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
TIMEOUT = 30.0
CLIENTS = ("a", "b", "b2", "c")
LABELS = {
    "a": "(a) bare httpx + json.loads",
    "b": "(b) coupontools_async, default (aiohttp)",
    "b2": '(b′) coupontools_async, `http_backend="httpx"`',
    "c": "(c) openapi-python-client peer",
}
MODES = ("sequential", "concurrent")
RATIOS: tuple[tuple[str, str, tuple[float, float] | None], ...] = (
    # numerator, denominator, limits (sequential, 32 concurrent): the targets
    ("b", "a", (0.8, 0.6)),
    ("b", "c", (1.0, 1.0)),
    ("b2", "a", (1.10, 1.10)),
    ("b2", "c", None),
)

PROFILED = (("b", "a"), ("b", "c"), ("b2", "a"))
"""The differential profiles: every ratio with a target."""

Call = Callable[[], Awaitable[Any]]


def _prime(name: str) -> str:
    return name.replace("b2", "b′")


@dataclass
class Sizes:
    calls: int
    reps: int
    warmup: int
    min_calls: int


@dataclass
class Sample:
    """One run of one client in one mode, per call (seconds)."""

    wall: float
    cpu: float
    server_cpu: float


@dataclass
class Results:
    calls: int
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)

    def per_call(self, client: str, mode: str, what: str = "wall") -> list[float]:
        return [getattr(s, what) for s in self.samples[(client, mode)]]

    def med(self, client: str, mode: str, what: str = "wall") -> float:
        return median(self.per_call(client, mode, what))

    def paired(self, num: str, den: str, mode: str) -> tuple[float, float]:
        """Lowest and highest ratio of the same repetition's two runs."""
        ratios = [
            x / y for x, y in zip(self.per_call(num, mode), self.per_call(den, mode), strict=True)
        ]
        return min(ratios), max(ratios)


def run(ctx: Context) -> Part:
    """Run part 1 and describe it."""
    part = Part("overhead", "1. Per-call overhead: `wallet_users.get` on loopback")
    sizes = (
        Sizes(calls=100, reps=2, warmup=20, min_calls=50)
        if ctx.quick
        else Sizes(calls=2000, reps=5, warmup=200, min_calls=1000)
    )
    made = peer(ctx)
    with served("--sessions", "0") as server:
        card_id, user_id = _pick_user(server.url)
        results, diffs, shares = asyncio.run(
            _bench(server, made, card_id, user_id, sizes, ctx.budget("overhead"), part)
        )
    _describe(part, results, sizes, made, card_id, user_id, diffs, shares)
    return part


def _pick_user(url: str) -> tuple[int, int]:
    """A seeded user with rewards and most fields set: a realistic payload."""
    cards = httpx.get(url + "/v4/loyalty/loyalty-cards", headers=AUTH_HEADERS).json()
    card_id = int(cards[0]["id"])
    users = httpx.get(
        url + f"/v4/loyalty/loyalty-cards/{card_id}/stats", headers=AUTH_HEADERS
    ).json()
    best = max(users, key=lambda u: (bool(u.get("rewards")), len(u)))
    return card_id, int(best["id"])


async def _bench(
    server: Server,
    made: Peer,
    card_id: int,
    user_id: int,
    sizes: Sizes,
    budget: float,
    part: Part,
) -> tuple[Results, dict[str, DiffProfile], dict[str, float]]:
    started = time.perf_counter()
    url = server.url
    async with AsyncExitStack() as stack:
        http_a = await stack.enter_async_context(httpx.AsyncClient(limits=LIMITS, timeout=TIMEOUT))
        ct_b, ct_b2 = [
            await stack.enter_async_context(
                AsyncClient(
                    CLIENT_ID,
                    CLIENT_SECRET,
                    base_url=url,
                    timeout=TIMEOUT,
                    max_connections=CONCURRENCY,
                    http_backend=backend,
                )
            )
            for backend in ("auto", "httpx")
        ]
        peer_client = made.client_class(
            base_url=url,
            headers=dict(AUTH_HEADERS),
            timeout=httpx.Timeout(TIMEOUT),
            httpx_args={"limits": LIMITS},
            raise_on_unexpected_status=True,
        )
        await stack.enter_async_context(peer_client)
        request_url = f"{url}/v4/loyalty/loyalty-cards/{card_id}/stats/{user_id}"
        get_peer = made.get_module.asyncio

        async def call_a() -> Any:
            request = http_a.build_request("GET", request_url, headers=AUTH_HEADERS)
            response = await http_a.send(request)
            if response.status_code != 200:
                raise RuntimeError(f"bare httpx got {response.status_code}")
            return json.loads(response.content)

        async def call_b() -> Any:
            return await ct_b.wallet_users.get(card_id, user_id)

        async def call_b2() -> Any:
            return await ct_b2.wallet_users.get(card_id, user_id)

        async def call_c() -> Any:
            user = await get_peer(card_id=card_id, user_id=user_id, client=peer_client)
            if user is None:
                raise RuntimeError("the peer client decoded nothing")
            return user

        calls: dict[str, Call] = {"a": call_a, "b": call_b, "b2": call_b2, "c": call_c}
        await _check_same_answer(calls)

        # Warm up every client (connections opened, code paths hot) and estimate the cost.
        per_call: dict[str, float] = {}
        for name in CLIENTS:
            per_call[name] = 0.0
            for mode in MODES:
                sample = await _measure(calls[name], sizes.warmup, mode, server)
                per_call[name] += sample.wall
        clients = list(CLIENTS)
        n_calls = sizes.calls
        left = budget - (time.perf_counter() - started)

        def predicted(names: list[str], n: int) -> float:
            # The repetitions, the four profiled runs (one mode each, about twice as slow)
            # and 15% for the warm-up's optimism (short bursts run faster than long ones).
            runs = sum(per_call[name] for name in names) * n * sizes.reps
            profiled = sum(per_call[name] for name in CLIENTS) * min(n, 1000)
            return 1.15 * (runs + profiled)

        if predicted(clients, n_calls) > left:
            fitted = int(n_calls * left / predicted(clients, n_calls)) // 100 * 100
            n_calls = max(sizes.min_calls, fitted)
            part.notes.append(
                f"Overhead: {n_calls:,} calls per run instead of {sizes.calls:,} — the warm-up "
                f"predicted {predicted(clients, sizes.calls):.0f} s for {sizes.calls:,}, over "
                f"the {left:.0f} s left for this part (the machine is slower or busier than "
                "planned)."
            )
        results = Results(calls=n_calls)
        for rep in range(sizes.reps):
            order = clients[rep % len(clients) :] + clients[: rep % len(clients)]
            for mode in MODES:
                for name in order:
                    sample = await _measure(calls[name], n_calls, mode, server)
                    results.samples.setdefault((name, mode), []).append(sample)

        # Where (b)'s time goes: (a) and (b) profiled alike, in the mode where b/a is worst;
        # the difference per function is what the library adds.
        worst = max(MODES, key=lambda m: results.med("b", m) / results.med("a", m))
        profiled = min(n_calls, 1000)
        profilers = {}
        for name in CLIENTS:
            profiler = cProfile.Profile()
            profiler.enable()
            try:
                await _measure(calls[name], profiled, worst, server)
            finally:
                profiler.disable()
            profilers[name] = profiler
        diffs = {
            f"{num}/{other}": diff_profile(
                profilers[other],
                profilers[num],
                profiled,
                title=f"Differential cProfile of ({_prime(num)}) against ({other}), "
                f"{profiled:,} calls each, {worst}",
                names=(num, other),
                top=15 if other == "a" else 10,
            )
            for num, other in PROFILED
        }
        return results, diffs, package_shares(profilers["b"])


async def _check_same_answer(calls: dict[str, Call]) -> None:
    """Every client must decode the same user, or the comparison means nothing."""
    raw = await calls["a"]()
    for name in ("b", "b2", "c"):
        user = await calls[name]()
        rewards = getattr(user, "rewards", None) or []
        if user.id != raw["id"] or user.email != raw.get("email"):
            raise RuntimeError(f"client {name} decoded another user: {user!r}")
        if len(rewards) != len(raw.get("rewards") or []):
            raise RuntimeError(f"client {name} lost rewards: {user!r}")


async def _measure(call: Call, n: int, mode: str, server: Server) -> Sample:
    server_before = server.cpu_seconds()
    wall_before, cpu_before = time.perf_counter(), time.process_time()
    if mode == "sequential":
        for _ in range(n):
            await call()
    else:
        limiter = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with limiter:
                await call()

        await asyncio.gather(*(one() for _ in range(n)))
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    server_cpu = server.cpu_seconds() - server_before
    return Sample(wall / n, cpu / n, server_cpu / n)


def _describe(
    part: Part,
    results: Results,
    sizes: Sizes,
    made: Peer,
    card_id: int,
    user_id: int,
    diffs: dict[str, DiffProfile],
    shares: dict[str, float],
) -> None:
    us = 1e6
    n = results.calls
    part.lines += [
        f"The same {n:,} `wallet_users.get({card_id}, {user_id})` calls (a seeded user with "
        f"rewards), {sizes.reps} repetitions per configuration, interleaved; per-call medians "
        "in µs with the min–max over the repetitions. At 32 concurrent, per call is elapsed "
        f"÷ {n:,} (the inverse of throughput). *Client CPU* is the benchmark process's "
        "`time.process_time()` per call, *server CPU* the served sandbox's, per call.",
        "",
    ]
    rows = []
    measured = [name for name in CLIENTS if (name, "sequential") in results.samples]
    for name in measured:
        row: list[object] = [LABELS[name]]
        for mode in MODES:
            walls = results.per_call(name, mode)
            row += [
                f"{results.med(name, mode) * us:,.0f}",
                spread(walls, us),
                f"{results.med(name, mode, 'cpu') * us:,.0f}",
            ]
        row.append(f"{results.med(name, 'sequential', 'server_cpu') * us:,.0f}")
        rows.append(row)
    part.lines += table(
        [
            "client",
            "sequential µs/call",
            "min–max",
            "client CPU µs",
            "32 concurrent µs/call",
            "min–max",
            "client CPU µs",
            "server CPU µs (seq.)",
        ],
        rows,
    )
    part.lines += ["", "Ratios of the medians (wall time per call; client CPU in brackets):", ""]
    ratio_rows = []
    for num, den, limits in RATIOS:
        if num not in measured:
            continue
        row = [f"{_prime(num)}/{den}"]
        for mode, limit in zip(MODES, limits or (None, None), strict=True):
            wall = results.med(num, mode) / results.med(den, mode)
            cpu = results.med(num, mode, "cpu") / results.med(den, mode, "cpu")
            row.append(f"{wall:.3f} ({cpu:.3f})")
            if limit is not None:
                part.targets.append(
                    Target(
                        f"overhead {num}/{den}, {mode} (wall per call)",
                        wall,
                        limit,
                        unit="×",
                        spread=results.paired(num, den, mode),
                    )
                )
        row.append(" / ".join(f"≤ {x:.2f}" for x in limits) if limits else "—")
        ratio_rows.append(row)
    part.lines += table(["ratio", "sequential", "32 concurrent", "target"], ratio_rows)
    part.lines += [
        "",
        f"Peer client: {made.describe()}",
        "",
        "32 connections and a 30 s timeout for all four: bare httpx and the peer with "
        "`httpx.Limits(max_connections=32, max_keepalive_connections=32)`, ours with "
        "`max_connections=32`. (b) is the client as `AsyncClient()` builds it on asyncio "
        "with the `aiohttp` extra installed (aiohttp through httpx-aiohttp); (b′) is the "
        "same client on httpx's own transport, which is what trio users (and anyone "
        "without the extra) get.",
        "",
        *(line for key in diffs for line in [*diffs[key].lines, ""]),
    ]
    ours = share(shares, "coupontools_async")
    for target in part.targets:
        if target.met:
            continue
        mode = "sequential" if "sequential" in target.name else "concurrent"
        num, den = target.name.split()[1].rstrip(",").split("/")
        diff = diffs[f"{num}/{den}"]
        largest = ", ".join(f"`{name}` {us:+.0f}" for name, us in diff.largest[:5])
        cpu = results.med(num, mode, "cpu") / results.med(den, mode, "cpu")
        target.why = (
            f"client CPU per call {num}/{den} = {cpu:.2f} in that mode; the differential "
            f"profile of ({_prime(num)}) against ({den}) finds {diff.extra_us:+.0f} µs per "
            f"call under the profiler, {diff.ours_us:+.0f} µs of it in coupontools_async's "
            f"own functions ({ours * 100:.0f}% of (b)'s profiled time); largest, in µs per "
            f"call: {largest}"
        )
