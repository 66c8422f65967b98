"""The sandbox's own machinery: auth, validation codes, envelopes, faults, webhooks, serving."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from coupontools_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    NotFoundError,
    RetryPolicy,
    models,
)
from coupontools_async.sandbox import SANDBOX_BASE_URL, Sandbox, SandboxConfig
from tests._served import served

pytestmark = pytest.mark.anyio


async def no_sleep(_: float) -> None:
    return None


def raw_client(sandbox: Sandbox, secret: str | None = None) -> httpx.AsyncClient:
    """Plain httpx to the sandbox: sends what our client would refuse to send."""
    secret = secret or sandbox.client_secret
    return httpx.AsyncClient(
        transport=sandbox.transport(),
        base_url=SANDBOX_BASE_URL,
        headers={"X-Client-Id": sandbox.client_id, "X-Client-Secret": secret},
    )


async def test_a_seeded_sandbox_answers_through_the_client() -> None:
    async with AsyncClient.sandbox(seed=3, sessions=50) as ct:
        cards = await ct.wallet_cards.list()
        coupons = await ct.coupons.list()
    assert cards
    assert all(isinstance(card, models.WalletCard) for card in cards)
    assert coupons.coupon_info


async def test_the_same_seed_gives_the_same_data() -> None:
    one, two = Sandbox.seeded(7, sessions=100), Sandbox.seeded(7, sessions=100)
    async with one.client() as a, two.client() as b:
        assert await a.coupons.list() == await b.coupons.list()
        assert await a.wallet_cards.list() == await b.wallet_cards.list()
    other = Sandbox.seeded(8, sessions=100)
    async with other.client() as c, one.client() as a:
        assert (await c.coupons.list()) != (await a.coupons.list()) or (
            await c.wallet_users.list((await c.wallet_cards.list())[0].id)
        ) != (await a.wallet_users.list((await a.wallet_cards.list())[0].id))


async def test_a_wrong_secret_is_error_1000_on_v3_and_401_on_v4() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    async with AsyncClient(
        sandbox.client_id,
        "wrong",
        base_url=SANDBOX_BASE_URL,
        transport=sandbox.transport(),
        max_retries=0,
    ) as ct:
        with pytest.raises(AuthenticationError) as v3:
            await ct.coupons.list()
        with pytest.raises(AuthenticationError) as v4:
            await ct.wallet_cards.list()
    assert v3.value.codes == (1000,)
    assert v4.value.status_code == 401


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        ({}, 200, "Missing parameter: campaign"),
        ({"campaign": "12;drop"}, 301, "Invalid character in parameter: campaign"),
        ({"campaign": "cam_1", "page": "two"}, 301, "Invalid character in parameter: page"),
        ({"campaign": "cam_1", "start_date": "31/01/2024"}, 303, None),
    ],
)
async def test_requests_are_validated_against_the_spec_with_documented_codes(
    body: dict[str, Any], code: int, text: str | None
) -> None:
    sandbox = Sandbox.seeded(sessions=10)
    async with raw_client(sandbox) as http:
        response = await http.post("/v3/campaign/data", json=body)
    data = response.json()
    assert data["status"]["status"] == "failed"
    assert data["errors"]["error_code"] == [code]
    if text:
        assert data["errors"]["error_message_description"] == [text]


async def test_an_enum_outside_the_documented_values_is_302() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    async with raw_client(sandbox) as http:
        response = await http.post(
            "/v3/couponsession/update", json={"couponsession": "abc", "operation": "explode"}
        )
    assert response.json()["errors"]["error_code"] == [302]


async def test_v3_numbers_and_flags_go_out_as_strings_like_the_real_api() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    async with raw_client(sandbox) as http:
        response = await http.post("/v3/smstool/grouplist", json={})
    data = response.json()
    assert data["status"] == {"status": "OK"}
    assert isinstance(data["amount_of_groups"], str)


async def test_v3_failures_can_come_with_http_200_and_the_client_still_raises() -> None:
    sandbox = Sandbox.seeded(sessions=10, v3_error_status=200)
    async with sandbox.client(max_retries=0) as ct:
        with pytest.raises(NotFoundError) as info:
            await ct.coupons.get(campaign="cam_999999999")
    assert info.value.status_code == 200
    assert info.value.codes == (502,)


async def test_unknown_routes_are_404() -> None:
    async with raw_client(Sandbox()) as http:
        response = await http.post("/v3/nothing/here", json={})
    assert response.status_code == 404


async def test_injected_5xx_are_retried_by_the_client_and_counted() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    sandbox.faults.inject(rate=0.5, kinds=["500", "503"], routes=["wallet_cards_list"])
    async with sandbox.client(max_retries=10, retry=RetryPolicy(sleep=no_sleep)) as ct:
        for _ in range(20):
            assert await ct.wallet_cards.list()
    assert sandbox.faults.injected["500"] + sandbox.faults.injected["503"] > 0
    assert sandbox.calls["wallet_cards_list"] > 20


async def test_a_429_carries_retry_after() -> None:
    sandbox = Sandbox()
    sandbox.faults.inject(rate=1.0, kinds=["429"], retry_after=3)
    async with raw_client(sandbox) as http:
        response = await http.get("/v4/loyalty/loyalty-cards")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.002, "0.002"), (0.5, "0.5"), (1.2, "2"), (3.0, "3")]
)
async def test_retry_after_is_written_alike_on_both_paths_whole_seconds_from_one_second(
    seconds: float, header: str
) -> None:
    # RFC 9110 10.2.3: delta-seconds is an integer, so a second or more is rounded up.
    # Below one second the sandbox keeps the decimal (a test convenience the client
    # reads): rounding 0.002 up to 1 s changes what seeded reliability tests exercise.
    # The in-process transport and the served (ASGI) app answer through one writer.
    sandbox = Sandbox()
    sandbox.faults.inject(rate=1.0, kinds=["429", "503-retry-after"], retry_after=seconds)
    headers = {"X-Client-Id": sandbox.client_id, "X-Client-Secret": sandbox.client_secret}
    transports = [sandbox.transport(), httpx.ASGITransport(app=sandbox.asgi_app())]
    written = []
    for transport in transports:
        async with httpx.AsyncClient(
            transport=transport, base_url=SANDBOX_BASE_URL, headers=headers
        ) as http:
            for _ in range(4):
                response = await http.get("/v4/loyalty/loyalty-cards")
                assert response.status_code in (429, 503)
                written.append(response.headers["retry-after"])
    assert set(written) == {header}


async def test_a_sandbox_event_and_v3_timestamps_use_the_documented_utc_layout() -> None:
    sandbox = Sandbox.seeded(sessions=5)
    card = next(iter(sandbox.state.wallet.cards.values()))
    async with sandbox.client() as ct:
        await ct.wallet_users.create(card.id, first_name="Ann")
    stamp = sandbox.state.events[-1]["datetime"]
    assert time.strptime(stamp, "%Y-%m-%d %H:%M:%S")


async def test_commit_then_drop_applies_the_call_but_loses_the_answer() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    card = next(iter(sandbox.state.wallet.cards.values()))
    before = len(sandbox.state.wallet.users)
    sandbox.faults.inject(rate=1.0, kinds=["commit_drop"], routes=["wallet_users_create"])
    async with sandbox.client(retry=RetryPolicy(sleep=no_sleep)) as ct:
        with pytest.raises(APIConnectionError):
            await ct.wallet_users.create(card.id, first_name="Ann", email="ann@example.com")
    assert len(sandbox.state.wallet.users) == before + 1  # applied once, never repeated


async def test_a_dropped_connection_before_processing_applies_nothing() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    card = next(iter(sandbox.state.wallet.cards.values()))
    before = len(sandbox.state.wallet.users)
    sandbox.faults.inject(rate=1.0, kinds=["drop"], routes=["wallet_users_create"])
    async with sandbox.client(retry=RetryPolicy(sleep=no_sleep)) as ct:
        with pytest.raises(APIConnectionError):
            await ct.wallet_users.create(card.id, first_name="Ann")
    assert len(sandbox.state.wallet.users) == before


async def test_a_refused_connection_is_retried_even_for_a_create() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    card = next(iter(sandbox.state.wallet.cards.values()))
    before = len(sandbox.state.wallet.users)
    rule = sandbox.faults.inject(rate=1.0, kinds=["refuse"], routes=["wallet_users_create"])
    events: list[Any] = []

    async def clear_after_first(event: Any) -> None:
        events.append(event)
        sandbox.faults.remove(rule)  # faults are switchable at run time

    async with sandbox.client(retry=RetryPolicy(sleep=no_sleep), on_retry=clear_after_first) as ct:
        user = await ct.wallet_users.create(card.id, first_name="Ann")
    assert user.first_name == "Ann"
    assert len(events) == 1
    assert len(sandbox.state.wallet.users) == before + 1


async def test_a_slow_answer_times_out_the_client_after_the_call_was_applied() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    card = next(iter(sandbox.state.wallet.cards.values()))
    before = len(sandbox.state.wallet.users)
    sandbox.faults.inject(
        rate=1.0, kinds=["slow"], routes=["wallet_users_create"], slow_seconds=5.0
    )
    async with sandbox.client(timeout=0.05, retry=RetryPolicy(sleep=no_sleep)) as ct:
        with pytest.raises(APITimeoutError):
            await ct.wallet_users.create(card.id, first_name="Ann")
    assert len(sandbox.state.wallet.users) == before + 1


async def test_latency_delays_answers() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    sandbox.faults.latency(0.05)
    async with sandbox.client() as ct:
        started = time.monotonic()
        await ct.wallet_cards.list()
        elapsed = time.monotonic() - started
    assert elapsed >= 0.05


def test_fault_decisions_are_deterministic_by_seed() -> None:
    def run(seed: int) -> list[str | None]:
        sandbox = Sandbox(seed=seed)
        sandbox.faults.inject(rate=0.3, kinds=["500", "503", "429", "drop"])
        return [sandbox.faults.decide("wallet_users_create").kind for _ in range(200)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_unknown_fault_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Sandbox().faults.inject(rate=0.1, kinds=["explode"])


async def test_reset_forgets_the_state_but_keeps_the_config() -> None:
    sandbox = Sandbox.seeded(sessions=10, config=SandboxConfig(session_page_size=7))
    assert sandbox.state.wallet.cards
    sandbox.reset()
    assert not sandbox.state.wallet.cards
    assert sandbox.state.config.session_page_size == 7


async def test_webhooks_go_to_the_callback_and_can_be_verified() -> None:
    received: list[dict[str, Any]] = []
    sandbox = Sandbox.seeded(sessions=10, on_webhook=received.append)
    card = next(iter(sandbox.state.wallet.cards.values()))
    async with sandbox.client() as ct:
        user = await ct.wallet_users.create(card.id, first_name="Ann", email="ann@example.com")
        assert received[-1]["type"] == "loyalty_v3_created"
        assert received[-1]["user"]["id"] == user.id
        verified = await ct.webhooks.verify(webhook=received[-1]["id"])
    assert verified.type == "loyalty_v3_created"


async def test_webhooks_are_posted_to_a_configured_url() -> None:
    sandbox = Sandbox.seeded(sessions=10, webhook_url="https://hooks.example.test/ct")
    card = next(iter(sandbox.state.wallet.cards.values()))
    with respx.mock(assert_all_called=False) as mock:
        hook = mock.post("https://hooks.example.test/ct").respond(200)
        async with sandbox.client() as ct:
            await ct.wallet_users.create(card.id, first_name="Ann")
    assert hook.call_count == 1
    assert json.loads(hook.calls.last.request.content)["type"] == "loyalty_v3_created"


async def test_coupontools_sandbox_serve_runs_on_a_port_for_the_client() -> None:
    with served("--sessions", "30") as base_url:
        async with AsyncClient(
            "sandbox-client-id", "sandbox-client-secret", base_url=base_url
        ) as ct:
            cards = await ct.wallet_cards.list()
            user = await ct.wallet_users.create(cards[0].id, first_name="Port")
            again = await ct.wallet_users.get(cards[0].id, user.id)
            coupons = await ct.coupons.list()
    assert again.first_name == "Port"
    assert coupons.coupon_info


async def test_a_dropped_connection_on_a_real_port_reaches_the_client_as_a_connection_error() -> (
    None
):
    with served("--sessions", "10", "--fault-rate", "1", "--fault-kinds", "drop") as base_url:
        async with AsyncClient(
            "sandbox-client-id",
            "sandbox-client-secret",
            base_url=base_url,
            retry=RetryPolicy(sleep=no_sleep),
            max_retries=1,
        ) as ct:
            with pytest.raises(APIConnectionError):
                await ct.wallet_cards.list()


@pytest.mark.parametrize(("given", "written"), [("2", "2"), ("0.05", "0.05"), ("1.2", "2")])
def test_serve_retry_after_is_what_a_served_429_asks(given: str, written: str) -> None:
    options = ("--sessions", "0", "--fault-rate", "1", "--fault-kinds", "429")
    with served(*options, "--retry-after", given) as base_url:
        answer = httpx.get(
            f"{base_url}/v4/loyalty/loyalty-cards",
            headers={
                "X-Client-Id": "sandbox-client-id",
                "X-Client-Secret": "sandbox-client-secret",
            },
        )
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == written
