"""The retry policy of DESIGN.md, driven by a fake clock: nothing really sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from coupontools_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RetryEvent,
    RetryPolicy,
    ServerError,
)

pytestmark = pytest.mark.anyio

BASE = "https://api.test"
CARDS = "/v4/loyalty/loyalty-cards"
CREATE = "/v4/loyalty/loyalty-cards/1/stats"


class FakeClock:
    """A clock that only moves when the retry layer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def client(clock: FakeClock, **kwargs: Any) -> AsyncClient:
    policy = RetryPolicy(
        sleep=clock.sleep,
        clock=clock.time,
        random=lambda: 0.0,
        deadline=kwargs.pop("deadline", 120.0),
        max_retry_after=kwargs.pop("max_retry_after", 60.0),
    )
    kwargs.setdefault("max_retries", 3)
    return AsyncClient("id", "secret", base_url=BASE, retry=policy, **kwargs)


async def test_503_then_200_succeeds_after_one_retry(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(CARDS).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=[{"id": 1}])]
    )
    async with client(clock) as ct:
        cards = await ct.wallet_cards.list()
    assert cards[0].id == 1
    assert route.call_count == 2
    assert clock.sleeps == [0.5]


async def test_backoff_doubles_from_half_a_second_and_is_capped_at_eight(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    mock.get(CARDS).respond(500)
    async with client(clock, max_retries=6) as ct:
        with pytest.raises(ServerError):
            await ct.wallet_cards.list()
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_jitter_shortens_each_wait_by_at_most_half() -> None:
    def fixed(value: float) -> RetryPolicy:
        return RetryPolicy(random=lambda: value)

    waits = {fixed(r).backoff(3) for r in (0.0, 0.5, 0.999)}
    assert max(waits) == 2.0
    assert min(waits) > 1.0


async def test_429_with_retry_after_seconds_waits_that_long(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    mock.get(CARDS).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json=[]),
        ]
    )
    async with client(clock) as ct:
        assert await ct.wallet_cards.list() == []
    assert clock.sleeps == [7.0]


async def test_429_with_retry_after_as_http_date_waits_until_then(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    mock.get(CARDS).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
            httpx.Response(200, json=[]),
        ]
    )
    async with client(clock) as ct:
        await ct.wallet_cards.list()
    assert len(clock.sleeps) == 1
    assert 25 <= clock.sleeps[0] <= 31


async def test_retry_after_beyond_the_cap_raises_rate_limit_error_with_the_wait(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(CARDS).respond(429, headers={"Retry-After": "600"})
    async with client(clock) as ct:
        with pytest.raises(RateLimitError) as info:
            await ct.wallet_cards.list()
    assert info.value.retry_after == 600
    assert route.call_count == 1
    assert clock.sleeps == []


async def test_a_400_is_not_retried(mock: respx.MockRouter, clock: FakeClock) -> None:
    route = mock.get(CARDS).respond(400, json={"message": "bad"})
    async with client(clock) as ct:
        with pytest.raises(InvalidRequestError):
            await ct.wallet_cards.list()
    assert route.call_count == 1


async def test_a_v3_failed_envelope_on_a_500_is_not_retried(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.post("/v3/coupon/info").respond(
        500,
        json={
            "status": {"status": "failed"},
            "errors": {"error_code": [502], "error_message_description": ["Campaign ID not found"]},
        },
    )
    async with client(clock) as ct:
        with pytest.raises(NotFoundError):
            await ct.coupons.get(campaign="cam_1")
    assert route.call_count == 1


async def test_a_read_timeout_on_a_read_is_retried(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(CARDS).mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=[{"id": 2}])]
    )
    async with client(clock) as ct:
        cards = await ct.wallet_cards.list()
    assert cards[0].id == 2
    assert route.call_count == 2


async def test_a_create_after_a_read_timeout_is_sent_exactly_once(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.post(CREATE).mock(side_effect=httpx.ReadTimeout("the server may have it"))
    async with client(clock) as ct:
        with pytest.raises(APITimeoutError):
            await ct.wallet_users.create(1, first_name="Ann")
    assert route.call_count == 1
    assert clock.sleeps == []


async def test_add_stamps_after_a_dropped_answer_is_never_repeated(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.post("/v4/loyalty/loyalty-cards/1/stats/2").mock(
        side_effect=httpx.RemoteProtocolError("peer closed connection")
    )
    async with client(clock) as ct:
        with pytest.raises(APIConnectionError):
            await ct.wallet_users.add_stamps(1, 2, amount=1)
    assert route.call_count == 1


async def test_a_create_is_retried_when_it_cannot_have_reached_the_server(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.post(CREATE).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(503, headers={"Retry-After": "2"}),
            httpx.Response(200, json={"id": 5}),
        ]
    )
    async with client(clock) as ct:
        user = await ct.wallet_users.create(1, first_name="Ann")
    assert user.id == 5
    assert route.call_count == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_a_create_is_not_retried_on_a_plain_503_or_500(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.post(CREATE).respond(503)
    async with client(clock) as ct:
        with pytest.raises(ServerError):
            await ct.wallet_users.create(1, first_name="Ann")
    assert route.call_count == 1


async def test_the_deadline_stops_a_retry_storm(mock: respx.MockRouter, clock: FakeClock) -> None:
    route = mock.get(CARDS).respond(503)
    async with client(clock, max_retries=100, deadline=10.0) as ct:
        with pytest.raises(ServerError):
            await ct.wallet_cards.list()
    assert sum(clock.sleeps) < 10.0
    assert route.call_count == len(clock.sleeps) + 1 < 10


async def test_max_retries_per_call_overrides_the_client(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(CARDS).respond(503)
    async with client(clock, max_retries=5) as ct:
        with pytest.raises(ServerError):
            await ct.with_options(max_retries=1).wallet_cards.list()
        assert route.call_count == 2
        with pytest.raises(ServerError):
            await ct.with_options(max_retries=0).wallet_cards.list()
        assert route.call_count == 3


async def test_on_retry_hears_about_every_retry(mock: respx.MockRouter, clock: FakeClock) -> None:
    mock.get(CARDS).mock(
        side_effect=[httpx.Response(502), httpx.ConnectError("x"), httpx.Response(200, json=[])]
    )
    events: list[RetryEvent] = []

    async def hook(event: RetryEvent) -> None:
        events.append(event)

    async with client(clock, on_retry=hook) as ct:
        await ct.wallet_cards.list()
    assert [(e.attempt, e.reason, e.operation_id) for e in events] == [
        (1, "HTTP 502", "wallet_cards_list"),
        (2, "ConnectError", "wallet_cards_list"),
    ]
    assert events[0].operation == "GET /v4/loyalty/loyalty-cards"


async def test_every_retry_logs_one_warning(
    mock: respx.MockRouter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(CARDS).mock(side_effect=[httpx.Response(504), httpx.Response(200, json=[])])
    with caplog.at_level("WARNING", logger="coupontools_async"):
        async with client(clock) as ct:
            await ct.wallet_cards.list()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "Retrying GET /v4/loyalty/loyalty-cards after HTTP 504" in warnings[0].getMessage()


async def test_connection_errors_give_up_as_api_connection_error(
    mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(CARDS).mock(side_effect=httpx.ConnectError("refused"))
    async with client(clock, max_retries=2) as ct:
        with pytest.raises(APIConnectionError) as info:
            await ct.wallet_cards.list()
    assert route.call_count == 3
    assert "GET /v4/loyalty/loyalty-cards" in str(info.value)


async def test_a_real_deadline_cuts_a_hung_attempt() -> None:
    import anyio

    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        return httpx.Response(200, json=[])  # pragma: no cover

    class Hanging(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await hang(request)

    ct = AsyncClient(
        "id", "secret", base_url=BASE, transport=Hanging(), retry=RetryPolicy(deadline=0.05)
    )
    with pytest.raises(APITimeoutError, match="deadline"):
        await ct.wallet_cards.list()
    await ct.aclose()


def test_max_retries_comes_from_the_policy_unless_given_explicitly() -> None:
    assert AsyncClient("i", "s").retry_policy.max_retries == 3
    assert AsyncClient("i", "s", retry=RetryPolicy(max_retries=1)).retry_policy.max_retries == 1
    explicit = AsyncClient("i", "s", max_retries=0, retry=RetryPolicy(max_retries=5))
    assert explicit.retry_policy.max_retries == 0
