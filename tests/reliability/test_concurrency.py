"""One client, a small connection pool, 1,000 concurrent calls to a sandbox on a real port.

The sandbox runs as ``coupontools sandbox serve`` in a subprocess (uvicorn on a free
loopback port), so the calls cross real sockets and the real httpx connection pool:
with ``max_connections=4`` every call must still complete, none may fail, and the pool
must use its 4 connections and never hold a 5th (sampled every 2 ms while the calls
run, and at every answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from coupontools_async import AsyncClient, models
from tests._served import served

pytestmark = pytest.mark.anyio

CALLS = 1000
MAX_CONNECTIONS = 4
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with served("--sessions", "10") as url:
        yield url


class PoolWatch:
    """The most connections the httpx pool held at once, as far as it was seen."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        transport: Any = http._transport
        self.pool: Any = transport._pool  # httpcore.AsyncConnectionPool
        self.peak = 0
        self.samples = 0

    def sample(self) -> None:
        self.samples += 1
        self.peak = max(self.peak, len(self.pool.connections))

    async def on_response(self, _: httpx.Response) -> None:
        self.sample()

    async def watch(self) -> None:
        while True:
            self.sample()
            await anyio.sleep(0.002)


async def test_1000_concurrent_calls_through_a_pool_of_4_connections_all_succeed(
    base_url: str,
) -> None:
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=4)
    # No pool timeout: 1,000 calls queue for 4 connections, and on a loaded CI machine
    # (four Pythons sharing two cores) the last of them may wait longer than 30 s.
    http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30, pool=None))
    watch = PoolWatch(http)
    http.event_hooks["response"].append(watch.on_response)
    results: list[Any] = []
    async with (
        http,
        AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=base_url, http_client=http) as ct,
    ):
        cards = await ct.wallet_cards.list()
        card = cards[0]
        users = await ct.wallet_users.list(card.id, per_page=10)
        user = users[0]

        async def one(n: int) -> None:
            if n % 2:
                found = await ct.wallet_users.get(card.id, user.id)
                assert found.id == user.id
            else:
                listed = await ct.wallet_cards.list()
                assert [c.id for c in listed] == [c.id for c in cards]
            results.append(n)

        with anyio.fail_after(600):  # a hang guard, not a speed target (that is bench/)
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(watch.watch)
                async with anyio.create_task_group() as tg:
                    for n in range(CALLS):
                        tg.start_soon(one, n)
                watchers.cancel_scope.cancel()

    assert sorted(results) == list(range(CALLS))  # every call completed, none failed
    assert watch.peak == MAX_CONNECTIONS, watch.peak  # all 4 were used, never a 5th
    assert watch.samples >= CALLS
    assert isinstance(card, models.WalletCard)
