"""Iterating paged lists: every item once, one page in memory, sensible stops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from coupontools_async import AsyncClient, AsyncPager
from coupontools_async._generated import Pagination

pytestmark = pytest.mark.anyio

BASE = "https://api.test"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def ct() -> AsyncClient:
    return AsyncClient("id", "secret", base_url=BASE, max_retries=0)


def sessions_page(start: int, count: int) -> dict[str, Any]:
    return {
        "status": {"status": "OK"},
        "campaign": "cam_1",
        "data": [{"session": f"s{start + i}", "sequenceid": str(start + i)} for i in range(count)],
    }


async def test_iteration_over_three_pages_yields_every_item_once(mock: respx.MockRouter) -> None:
    pages = {1: sessions_page(0, 100), 2: sessions_page(100, 100), 3: sessions_page(200, 37)}
    route = mock.post("/v3/campaign/claims").mock(
        side_effect=lambda request: httpx.Response(
            200, json=pages[json.loads(request.content)["page"]]
        )
    )
    async with ct() as client:
        seen = [s.session async for s in client.sessions.iter(campaign="cam_1", state="claimed")]
    assert seen == [f"s{i}" for i in range(237)]
    assert route.call_count == 3  # the short third page is the last: no fourth request


async def test_a_short_first_page_is_confirmed_by_one_more_request(mock: respx.MockRouter) -> None:
    # The docs say 5000 a page, an integration sees 100: a short first page proves nothing.
    pages = {1: sessions_page(0, 100), 2: sessions_page(100, 100), 3: sessions_page(0, 0)}
    route = mock.post("/v3/campaign/data").mock(
        side_effect=lambda request: httpx.Response(
            200, json=pages[json.loads(request.content)["page"]]
        )
    )
    async with ct() as client:
        count = 0
        async for _ in client.sessions.iter(campaign="cam_1"):
            count += 1
    assert count == 200
    assert route.call_count == 3


async def test_a_server_that_ignores_the_page_number_does_not_loop_forever(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/campaign/data").respond(200, json=sessions_page(0, 100))
    async with ct() as client:
        items = await client.sessions.iter(campaign="cam_1").to_list()
    assert len(items) == 100
    assert route.call_count == 2


async def test_pages_can_be_iterated_instead_of_items(mock: respx.MockRouter) -> None:
    pages = {1: sessions_page(0, 3), 2: sessions_page(3, 3), 3: sessions_page(6, 1)}
    mock.post("/v3/campaign/data").mock(
        side_effect=lambda request: httpx.Response(
            200, json=pages[json.loads(request.content)["page"]]
        )
    )
    async with ct() as client:
        numbers = [
            (page.number, len(page.items))
            async for page in client.sessions.iter(campaign="cam_1").pages()
        ]
    assert numbers == [(1, 3), (2, 3), (3, 1)]


async def test_max_items_and_max_pages_stop_early(mock: respx.MockRouter) -> None:
    route = mock.post("/v3/campaign/data").mock(
        side_effect=lambda request: httpx.Response(
            200, json=sessions_page(json.loads(request.content)["page"] * 10, 10)
        )
    )
    async with ct() as client:
        first = await client.sessions.iter(campaign="cam_1", max_items=15).to_list()
        assert len(first) == 15
        assert route.call_count == 2
        pages = await client.sessions.iter(campaign="cam_1", max_pages=3).to_list()
        assert len(pages) == 30


async def test_wallet_users_iter_pages_with_per_page_and_stops_on_a_short_page(
    mock: respx.MockRouter,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        page, size = body["pagination"]["page"], body["pagination"]["per_page"]
        total = 25
        start = (page - 1) * size
        return httpx.Response(
            200, json=[{"id": n + 1} for n in range(start, min(total, start + size))]
        )

    route = mock.get("/v4/loyalty/loyalty-cards/3/stats").mock(side_effect=answer)
    async with ct() as client:
        ids = [u.id async for u in client.wallet_users.iter(3, per_page=10, include_voided=True)]
    assert ids == list(range(1, 26))
    assert route.call_count == 3
    assert json.loads(route.calls.last.request.content)["include_voided"] is True


async def test_directory_users_iterate_by_page(mock: respx.MockRouter) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = json.loads(request.content)["page"]
        users = [{"ID": f"reg_{page}_{i}"} for i in range(100 if page < 2 else 5)]
        return httpx.Response(200, json={"status": {"status": "OK"}, "users": users})

    mock.post("/v3/directoryusers/list").mock(side_effect=answer)
    async with ct() as client:
        users = await client.directories.iter_users(directory="dir_1").to_list()
    assert len(users) == 105


async def test_memory_stays_flat_over_100_000_items() -> None:
    import tracemalloc

    page_size = 1000

    async def fetch(page: int) -> list[dict[str, int]]:
        if page > 100:
            return []
        return [{"n": page * page_size + i} for i in range(page_size)]

    pager: AsyncPager[dict[str, int]] = AsyncPager(
        fetch, Pagination(style="page", page_param="page", page_size=page_size, items="")
    )
    tracemalloc.start()
    count = 0
    peak_after_first_pages = 0
    async for _ in pager:
        count += 1
        if count == 5 * page_size:
            peak_after_first_pages = tracemalloc.get_traced_memory()[1]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 100_000
    # Twenty times the items, the same memory: only a page or two is ever alive.
    assert peak < peak_after_first_pages * 1.5
