"""The real API's answers, as public code that ran against it shows them, decode into what a user reads.

Every payload here is written by hand from FACTS.md "Evidence from outside the docs"
(Grade A: the Pipedream components; B: rebens-api; C: the current docs pages), never
produced by our sandbox or spec: a fake sharing our guesses would prove nothing. Values
arrive the way v3 sends them (numbers, flags and counts as strings).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import attrs
import httpx
import pytest

from coupontools_async import AsyncClient, NotFoundError, ValidationError
from tests._spec import lookup

pytestmark = pytest.mark.anyio

BASE = "https://api.test"
OK = {"status": {"status": "OK"}}


def _item(session: str, sequence: str, **status: str) -> dict[str, Any]:
    """A session list item as Grade A and B read it: ``status`` beside ``session``."""
    return {"session": session, "sequenceid": sequence, "customid": "crm-7", "status": status}


CLAIMED_ITEM = _item(
    "ac6s7u3g8a25ja7x9qg87",
    "19878460",
    created_date_utc="2024-03-01 09:00:00",
    opened="1",
    open_date_utc="2024-03-01 09:01:12",
    claimed="1",
    claim_date_utc="2024-03-02 10:15:00",
    validated="1",
    validation_date_utc="2024-03-03 18:30:05",
    own_validation_code="XMAS-2024",
    played="0",
    played_date_utc="",
)
OPENED_ITEM = _item(
    "bq7d2k9m4p1x8z3v6n0wt",
    "19878461",
    opened="1",
    open_date_utc="2024-03-04 08:00:00",
    claimed="0",
    claim_date_utc="",
    validated="0",
    validation_date_utc="",
    own_validation_code="",
    played="1",
    played_date_utc="2024-03-04 08:00:30",
)
EMPTY_PAGE = {**OK, "amount_of_results": "0"}  # no data key at all (Grade A)

Call = Callable[[AsyncClient], Awaitable[Any]]


@attrs.frozen
class Case:
    """One evidenced answer: the call, where it goes, what comes back, what the user reads."""

    name: str
    call: Call
    path: str
    answer: dict[str, Any]
    reads: dict[str, Any]
    sent: dict[str, Any] = attrs.field(factory=dict)


CASES = [
    Case(
        "claimed_list_dates_at_the_item_top_level",
        lambda ct: ct.sessions.list(campaign="cam_123", state="claimed"),
        "/v3/campaign/claims",
        {**OK, "amount_of_results": "2", "data": [CLAIMED_ITEM, OPENED_ITEM]},
        {
            "amount_of_results": 2,
            "data[0].session": "ac6s7u3g8a25ja7x9qg87",
            "data[0].sequenceid": 19878460,
            "data[0].status.open_date_utc": datetime(2024, 3, 1, 9, 1, 12),
            "data[0].status.claim_date_utc": datetime(2024, 3, 2, 10, 15),
            "data[0].status.validation_date_utc": datetime(2024, 3, 3, 18, 30, 5),
            "data[0].status.own_validation_code": "XMAS-2024",
            "data[0].status.claimed": True,
            "data[0].status.played": False,
            "data[1].status.claim_date_utc": None,
            "data[1].status.played": True,
            "data[1].status.played_date_utc": datetime(2024, 3, 4, 8, 0, 30),
        },
        {"campaign": "cam_123"},
    ),
    Case(
        "opens_list_open_date",
        lambda ct: ct.sessions.list(campaign="cam_123", state="opened", page=3),
        "/v3/campaign/opens",
        {**OK, "amount_of_results": "1", "data": [OPENED_ITEM]},
        {"data[0].status.open_date_utc": datetime(2024, 3, 4, 8), "data[0].customid": "crm-7"},
        {"campaign": "cam_123", "page": 3},
    ),
    Case(
        "validations_list_validation_date",
        lambda ct: ct.sessions.list(campaign="cam_123", state="validated"),
        "/v3/campaign/validations",
        {**OK, "amount_of_results": "1", "data": [CLAIMED_ITEM]},
        {"data[0].status.validation_date_utc": datetime(2024, 3, 3, 18, 30, 5)},
    ),
    Case(
        "empty_page_has_only_amount_of_results",
        lambda ct: ct.sessions.list(campaign="cam_123"),
        "/v3/campaign/data",
        EMPTY_PAGE,
        {"amount_of_results": 0, "data": []},
    ),
    Case(
        "subaccount_create_answers_an_object_with_ID",
        lambda ct: ct.subaccounts.create(email="john@doe.com"),
        "/v4/subaccount/create",
        {**OK, "subaccount": {"ID": "sub_3427", "email": "john@doe.com"}},
        {"subaccount.id": "sub_3427", "subaccount.email": "john@doe.com"},
        {"email": "john@doe.com"},
    ),
    Case(
        "send_sms_answers_the_new_session",
        lambda ct: ct.distribution.send_coupon_sms(
            campaign="cam_123", phone="+32 470 12 34 56", body="Your coupon"
        ),
        "/v3/send/sms",
        {
            **OK,
            "campaign": "cam_123",
            "message": "Your coupon https://digicpn.com/p/x8e5tq?s=k2j4h6g8f0d1s3a5p7o9i",
            "phone": "32470123456",
            "single_use_code": "k2j4h6g8f0d1s3a5p7o9i",
            "single_use_url": "https://digicpn.com/p/x8e5tq?s=k2j4h6g8f0d1s3a5p7o9i",
            "action": "sms_sent",
        },
        {
            "single_use_code": "k2j4h6g8f0d1s3a5p7o9i",
            "single_use_url": "https://digicpn.com/p/x8e5tq?s=k2j4h6g8f0d1s3a5p7o9i",
            "phone": "32470123456",
            "campaign": "cam_123",
        },
        {"campaign": "cam_123", "phone": "+32470123456", "body": "Your coupon"},
    ),
    Case(
        "send_email_answers_email_sent",
        lambda ct: ct.distribution.send_coupon_email(campaign="cam_123", email="ann@example.com"),
        "/v3/send/email",
        {**OK, "action": "email_sent"},
        {"action": "email_sent"},
        {"campaign": "cam_123", "email": "ann@example.com"},
    ),
    Case(
        "send_directory_email_puts_the_directory_in_campaign",
        lambda ct: ct.distribution.send_directory_email(
            campaign="dir_1234", email="ann@example.com", subject="Our deals"
        ),
        "/v3/send/email",
        {**OK, "action": "email_sent"},
        {"action": "email_sent"},
        {"campaign": "dir_1234", "email": "ann@example.com", "subject": "Our deals"},
    ),
    Case(
        "send_directory_sms_puts_the_directory_in_campaign",
        lambda ct: ct.distribution.send_directory_sms(campaign="dir_1234", phone="+32470123456"),
        "/v3/send/sms",
        {**OK, "campaign": "dir_1234", "phone": "32470123456", "action": "sms_sent"},
        {"campaign": "dir_1234", "single_use_code": None},
        {"campaign": "dir_1234", "phone": "+32470123456"},
    ),
    Case(
        "single_use_create_answers_its_custom_validation_code",
        lambda ct: ct.single_use.create(campaign="cam_123", customvalcode="VIP42", customid="c9"),
        "/v3/singleuse/create",
        {
            **OK,
            "campaign": "cam_123",
            "action": "single_use_created",
            "single_use_url": "https://digicpn.com/p/x8e5tq?s=m1n2b3v4c5x6z7l8k9j0h",
            "single_use_code": "m1n2b3v4c5x6z7l8k9j0h",
            "widget_validation_code": "4711",
            "custom_validation_code": "VIP42",
            "customid": "c9",
        },
        {
            "custom_validation_code": "VIP42",
            "customid": "c9",
            "widget_validation_code": "4711",
            "single_use_code": "m1n2b3v4c5x6z7l8k9j0h",
            "campaign": "cam_123",
        },
        {"campaign": "cam_123", "customvalcode": "VIP42", "customid": "c9"},
    ),
    Case(
        "verification_answers_its_optional_fields",
        lambda ct: ct.webhooks.verify(webhook="evt_01234567890123456789"),
        "/v4/webhook/verification",
        {
            **OK,
            "result": "valid",
            "webhook": "evt_01234567890123456789",
            "date": "2024-03-02 10:15:01",
            "campaign": "cam_123",
            "session": "ac6s7u3g8a25ja7x9qg87",
            "type": "coupon_claimed",
        },
        {
            "result": "valid",
            "webhook": "evt_01234567890123456789",
            # The legacy page shows the key, not its layout: kept as the text it came as,
            # so an unexpected layout can never make a genuine event unverifiable.
            "date": "2024-03-02 10:15:01",
            "campaign": "cam_123",
            "session": "ac6s7u3g8a25ja7x9qg87",
            "type": "coupon_claimed",
        },
        {"webhook": "evt_01234567890123456789"},
    ),
]


class Wire:
    """An httpx transport answering one evidenced payload and keeping what was sent."""

    def __init__(self, *answers: Any, status: int = 200) -> None:
        self.answers = list(answers)
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(self.status, json=answer)

    def client(self) -> AsyncClient:
        return AsyncClient(
            "client-id-8f3k2",
            "client-secret-q9w7e",
            base_url=BASE,
            transport=httpx.MockTransport(self),
            max_retries=0,
        )

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def _naive(value: Any) -> Any:
    """Compare datetimes by their wall clock: the evidence gives no zone beyond "UTC"."""
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_an_evidenced_answer_decodes_into_what_the_user_reads(case: Case) -> None:
    wire = Wire(case.answer)
    async with wire.client() as ct:
        result = await case.call(ct)
    (request,) = wire.requests
    assert request.url.path == case.path
    for key, value in case.sent.items():
        assert wire.bodies()[0][key] == value, key
    read = {path: _naive(lookup(result, path)) for path in case.reads}
    assert read == case.reads


async def test_iterating_sessions_reads_every_claim_date_and_stops_on_the_empty_page() -> None:
    wire = Wire(
        {**OK, "amount_of_results": "2", "data": [CLAIMED_ITEM, OPENED_ITEM]},
        EMPTY_PAGE,
    )
    async with wire.client() as ct:
        sessions = [s async for s in ct.sessions.iter(campaign="cam_123", state="claimed")]
    assert [(s.session, _naive(s.status.claim_date_utc)) for s in sessions if s.status] == [
        ("ac6s7u3g8a25ja7x9qg87", datetime(2024, 3, 2, 10, 15)),
        ("bq7d2k9m4p1x8z3v6n0wt", None),
    ]
    assert [b["page"] for b in wire.bodies()] == [1, 2]


async def test_iterating_sessions_keeps_paging_through_full_pages_of_100() -> None:
    def page(first: int, size: int) -> dict[str, Any]:
        items = [
            _item(f"s{n:020d}", str(19878460 + n), claim_date_utc="2024-03-02 10:15:00")
            for n in range(first, first + size)
        ]
        return {**OK, "amount_of_results": str(size), "data": items}

    # Grade A pages while it gets exactly 100: a third page after two full ones is fetched.
    wire = Wire(page(0, 100), page(100, 100), page(200, 7), EMPTY_PAGE)
    async with wire.client() as ct:
        count = 0
        async for session in ct.sessions.iter(campaign="cam_123", state="claimed"):
            assert session.status is not None
            assert session.status.claim_date_utc is not None
            count += 1
    assert count == 207
    assert [b["page"] for b in wire.bodies()] == [1, 2, 3]


async def test_a_failed_directory_send_is_the_documented_not_found() -> None:
    failed = {
        "status": {"status": "failed"},
        "errors": {
            "error_message": "HTTP/1.0 422 Unprocessable entity.",
            "error_message_description": ["Directory ID not found"],
            "error_code": [502],
        },
    }
    wire = Wire(failed, status=422)
    async with wire.client() as ct:
        with pytest.raises(NotFoundError) as caught:
            await ct.distribution.send_directory_email(campaign="dir_9", email="ann@example.com")
    assert caught.value.codes == (502,)
    assert caught.value.messages == ("Directory ID not found",)


@pytest.mark.parametrize(
    "send",
    [
        lambda ct: ct.distribution.send_directory_email(campaign="cam_1", email="a@example.com"),
        lambda ct: ct.distribution.send_directory_sms(campaign="cam_1", phone="+32470123456"),
        lambda ct: ct.distribution.send_coupon_email(campaign="dir_1", email="a@example.com"),
        lambda ct: ct.distribution.send_coupon_sms(campaign="dir_1", phone="+32470123456"),
    ],
    ids=["dir_email", "dir_sms", "coupon_email", "coupon_sms"],
)
async def test_an_id_of_the_wrong_kind_is_refused_before_sending(send: Call) -> None:
    wire = Wire(OK)
    async with wire.client() as ct:
        with pytest.raises(ValidationError) as caught:
            await send(ct)
    assert caught.value.param == "campaign"
    assert wire.requests == []
