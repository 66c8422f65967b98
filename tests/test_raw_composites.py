"""``ct.with_raw_response`` on the hand-written composites, against the sandbox.

``sessions.list``, ``sessions.search``, the six ``send_*``, the flat ``wallet_users.list``
and both bulk imports return a real :class:`RawResponse`: the parsed result beside the
HTTP response(s) that carried it. Pagers (``iter``) have no raw form and are refused by
name before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from coupontools_async import AsyncClient, RawResponse, models
from coupontools_async.bulk import ImportReport
from coupontools_async.errors import NotFoundError, ValidationError
from coupontools_async.sandbox import Sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox.seeded(sessions=30)


@pytest.fixture
async def ct(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with sandbox.client(max_retries=0) as client:
        yield client


def coupon_of(sandbox: Sandbox) -> str:
    return next(iter(sandbox.state.coupons.campaigns))


def sent_body(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.request.content)
    return body


async def test_sessions_list_of_a_state_is_the_raw_answer_of_that_states_endpoint(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    campaign = coupon_of(sandbox)
    raw = await ct.with_raw_response.sessions.list(campaign=campaign, state="claimed")
    assert isinstance(raw, RawResponse)
    assert isinstance(raw.parsed, models.CouponSessionListResponse)
    assert raw.status_code == 200
    assert raw.http_response.request.url.path == "/v3/campaign/claims"
    assert sent_body(raw.http_response)["campaign"] == campaign
    answer = raw.http_response.json()
    assert [s.session for s in raw.parsed.data or []] == [
        item["session"] for item in answer.get("data") or []
    ]
    assert raw.responses == (raw.http_response,)


async def test_sessions_search_with_a_campaign_is_the_raw_answer_of_campaignsession_search(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    campaign = coupon_of(sandbox)
    sent = await ct.distribution.send_coupon_email(campaign=campaign, email="ann@example.com")
    raw = await ct.with_raw_response.sessions.search(email="ann@example.com", campaign=campaign)
    assert raw.http_response.request.url.path == "/v3/campaignsession/search"
    assert [s.session for s in raw.parsed.data or []] == [sent.couponsession]
    everywhere = await ct.with_raw_response.sessions.search(email="ann@example.com")
    assert everywhere.http_response.request.url.path == "/v3/couponsession/search"


async def test_each_send_spelling_is_a_raw_send_response_of_send_email_or_send_sms(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    coupon = coupon_of(sandbox)
    card = next(iter(sandbox.state.loyalty.cards))
    directory = next(iter(sandbox.state.account.directories))
    send = ct.with_raw_response.distribution
    answers = [
        (await send.send_coupon_email(campaign=coupon, email="a@example.com"), "email"),
        (await send.send_loyalty_email(loyaltycard=card, email="b@example.com"), "email"),
        (await send.send_directory_email(campaign=directory, email="c@example.com"), "email"),
        (await send.send_coupon_sms(campaign=coupon, phone="+32470000001"), "sms"),
        (await send.send_loyalty_sms(loyaltycard=card, phone="+32470000002"), "sms"),
        (await send.send_directory_sms(campaign=directory, phone="+32470000003"), "sms"),
    ]
    for raw, channel in answers:
        assert isinstance(raw.parsed, models.SendResponse)
        assert raw.http_response.request.url.path == f"/v3/send/{channel}"
        assert raw.status_code == 200
    assert sent_body(answers[2][0].http_response)["campaign"] == directory
    assert len(sandbox.state.coupons.sends) == 6


async def test_wallet_users_list_sends_the_flat_arguments_nested_and_shows_the_answer(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    card_id, card = next(iter(sandbox.state.wallet.cards.items()))
    raw = await ct.with_raw_response.wallet_users.list(card_id, page=1, per_page=5)
    assert sent_body(raw.http_response)["pagination"] == {"page": 1, "per_page": 5}
    assert [u.id for u in raw.parsed] == [u["id"] for u in raw.http_response.json()]
    assert 0 < len(raw.parsed) <= 5 <= len(card.users)


async def test_a_raw_wallet_import_holds_every_response_of_the_import(sandbox: Sandbox) -> None:
    card = sandbox.state.wallet.new_card(name="Raw import", type="stamp", reward_name="Coffee")
    data = [{"email": f"raw{n}@example.com", "first_name": f"Raw{n}"} for n in range(5)]
    async with sandbox.client(max_retries=0) as ct:
        raw = await ct.with_raw_response.wallet_users.import_users(
            int(card.id), data, batch_size=2, concurrency=2
        )
    assert isinstance(raw.parsed, ImportReport)
    assert raw.parsed.created == 5
    bulk = [r for r in raw.responses if r.request.url.path.endswith("/stats/bulk")]
    assert len(bulk) == 3  # 2 + 2 + 1 rows
    assert raw.http_response in raw.responses
    assert len(card.users) == 5


async def test_a_raw_import_with_nothing_to_send_still_returns_its_report(
    sandbox: Sandbox,
) -> None:
    """Every row invalid: nothing is sent, and the report (which says why) is not lost."""
    card = sandbox.state.wallet.new_card(name="Raw empty", type="stamp", reward_name="Coffee")
    data = [{"email": "not-an-email", "first_name": "Bad"}, {"email": "also bad"}]
    async with sandbox.client(max_retries=0) as ct:
        raw = await ct.with_raw_response.wallet_users.import_users(int(card.id), data)
        empty = await ct.with_raw_response.wallet_users.import_users(int(card.id), [])
    assert isinstance(raw.parsed, ImportReport)
    assert [f.line for f in raw.parsed.failed] == [1, 2]
    assert raw.responses == ()
    assert empty.responses == ()
    assert empty.parsed.total == 0
    with pytest.raises(LookupError, match=r"import_users sent no request.*parsed"):
        raw.status_code  # noqa: B018
    assert len(card.users) == 0


async def test_a_raw_loyalty_import_holds_the_create_and_link_of_each_row(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    card = next(iter(sandbox.state.loyalty.cards))
    data = [{"email": f"loyal{n}@example.com", "password": "s3cret-pass"} for n in range(2)]
    raw = await ct.with_raw_response.loyalty_users.import_users(loyaltycard=card, rows=data)
    assert raw.parsed.created == 2
    paths = sorted(r.request.url.path for r in raw.responses)
    assert paths == [
        "/v3/loyaltyusers/create",
        "/v3/loyaltyusers/create",
        "/v3/loyaltyusers/link",
        "/v3/loyaltyusers/link",
    ]


# ------------------------------------------------------------------------ attacks


async def test_a_pager_has_no_raw_form_and_is_refused_by_name_before_anything_is_sent(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    raw = ct.with_raw_response
    for group, name in (("sessions", "iter"), ("wallet_users", "iter"), ("sessions", "iter_all")):
        with pytest.raises(
            AttributeError, match=rf"\.{name} has no raw response: it returns a pager"
        ):
            getattr(getattr(raw, group), name)
        assert not hasattr(getattr(raw, group), name)
    assert not hasattr(raw.sessions, "no_such_method")
    assert not hasattr(raw.sessions, "_pager")
    assert sandbox.calls == {}


async def test_a_composites_own_check_still_refuses_bad_input_before_sending(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    directory = next(iter(sandbox.state.account.directories))
    with pytest.raises(ValidationError, match="expected a coupon id"):
        await ct.with_raw_response.distribution.send_coupon_email(
            campaign=directory, email="a@example.com"
        )
    with pytest.raises(ValidationError, match="state"):
        await ct.with_raw_response.sessions.list(campaign="cam_1", state="used")  # type: ignore[arg-type]
    assert sandbox.calls == {}


async def test_an_api_error_of_a_raw_composite_is_the_typed_error_not_a_raw_response(
    ct: AsyncClient,
) -> None:
    with pytest.raises(NotFoundError):
        await ct.with_raw_response.distribution.send_loyalty_email(
            loyaltycard="loy_9999999", email="a@example.com"
        )


async def test_concurrent_raw_composite_calls_each_get_their_own_response(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    coupon = coupon_of(sandbox)
    seen: dict[str, str] = {}

    async def one(n: int) -> None:
        email = f"c{n}@example.com"
        raw = await ct.with_raw_response.distribution.send_coupon_email(
            campaign=coupon, email=email
        )
        seen[email] = sent_body(raw.http_response)["email"]
        assert len(raw.responses) == 1

    async with anyio.create_task_group() as tg:
        for n in range(12):
            tg.start_soon(one, n)
    assert seen == {f"c{n}@example.com": f"c{n}@example.com" for n in range(12)}


async def test_a_raw_method_is_built_once_per_group_and_bound_to_its_clients_view(
    ct: AsyncClient,
) -> None:
    raw = ct.with_raw_response.sessions
    assert raw.list is raw.list
    view = ct.with_options(max_retries=1)
    assert view.with_raw_response.sessions is not raw
    assert view.with_raw_response.sessions.list is not raw.list
    assert view.with_raw_response.sessions._resource is view.sessions
