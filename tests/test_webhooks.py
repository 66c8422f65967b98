"""webhooks.parse() turns every documented payload into its typed event, refuses anything
that is not a payload with WebhookError only, and verify() asks the API (a Sandbox)."""

from __future__ import annotations

import json
import typing
from collections.abc import AsyncIterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from coupontools_async import (
    AsyncClient,
    AuthenticationError,
    CoupontoolsError,
    ServerError,
    WebhookError,
    models,
)
from coupontools_async._generated.events import EVENT_TYPES
from coupontools_async.sandbox import Sandbox
from coupontools_async.webhooks import (
    EVENT_MODELS,
    UnknownEvent,
    WebhookEvent,
    event_model,
    is_verifiable,
    mismatch,
    parse,
    parse_and_verify,
    parse_with_raw,
    verify,
)

pytestmark = pytest.mark.anyio

UTC = timezone.utc
SPEC_PATH = Path(__file__).resolve().parent.parent / "spec" / "coupontools.yaml"


def _documented_payloads() -> list[tuple[str, str, dict[str, Any]]]:
    """(webhook key, schema name, payload) for every webhook example of the spec."""
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    found = []
    for key, item in spec["webhooks"].items():
        media = item["post"]["requestBody"]["content"]["application/json"]
        schema = media["schema"]["$ref"].rsplit("/", 1)[1]
        for example in media["examples"].values():
            found.append((key, schema, example["value"]))
    return found


DOCUMENTED = _documented_payloads()
BY_KEY = {key: payload for key, _, payload in DOCUMENTED}


def documented(key: str) -> dict[str, Any]:
    """A fresh copy of the documented payload of webhook ``key``."""
    copied: dict[str, Any] = json.loads(json.dumps(BY_KEY[key]))
    return copied


# ------------------------------------------------------------------ documented payloads


def test_the_spec_documents_a_payload_for_every_event_type() -> None:
    assert len(DOCUMENTED) == 7
    assert {payload["type"] for _, _, payload in DOCUMENTED} == set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("key", "schema", "payload"), DOCUMENTED, ids=[key for key, _, _ in DOCUMENTED]
)
def test_every_documented_payload_parses_into_its_model(
    key: str, schema: str, payload: dict[str, Any]
) -> None:
    text = json.dumps(payload)
    event = parse(text)
    assert type(event) is getattr(models, schema)
    assert isinstance(event, EVENT_MODELS)
    assert event.id == payload["id"]
    assert event.type == payload["type"]
    expected = datetime.strptime(payload["datetime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert event.datetime == expected
    # bytes, text and an already-decoded mapping give the same event
    assert parse(text.encode()) == event
    assert parse(payload) == event
    again, raw = parse_with_raw(text)
    assert again == event
    assert raw == payload


def test_coupon_event_decodes_its_coupon_status_and_customer() -> None:
    event = parse(documented("coupon"))
    assert isinstance(event, models.CouponEvent)
    assert event.livemode is False
    assert event.session == event.coupon_code == "2e8g45wmyawppwubnk5r7"
    assert event.campaign == "cam_12345"
    assert event.coupon_url == "https://www.digicpn.com/p/u3s3dg/2e8g45wmyawppwubnk5r7"
    assert isinstance(event.coupon, models.CouponEventCoupon)
    assert event.coupon.coupon_code == "u3s3dg"
    assert event.coupon.friendly_name == "Here comes your campaign name"
    assert event.coupon.customid is None  # "" is unset
    assert event.coupon.timezone == "UTC"
    assert isinstance(event.status, models.CouponEventStatus)
    assert event.status.claimed is True
    assert event.status.scratched is False
    assert event.status.validated is False
    assert event.status.claimed_date == datetime(2022, 1, 14, 10, 40, 38, tzinfo=UTC)
    assert event.status.scratched_date is None
    assert event.status.validated_date is None
    assert event.status.claimed_type == "db"
    assert isinstance(event.customer, models.CouponEventCustomer)
    assert event.customer.email == "info@email.com"
    assert event.customer.birthday == date(1980, 1, 1)
    assert event.customer.phone == "11234567890"
    assert event.customer.custom_field_7 == "Custom field 7"
    assert event.customer.question_1 == "Answer 1"


def test_coupon_created_event() -> None:
    event = parse(documented("coupon_created"))
    assert isinstance(event, models.CouponCreatedEvent)
    assert (event.coupon, event.subaccount) == ("cam_1026090", "sub_3427")


def test_subaccount_created_event_decodes_its_data() -> None:
    event = parse(documented("subaccount_created"))
    assert isinstance(event, models.SubaccountCreatedEvent)
    assert event.subaccount == "sub_3427"
    assert isinstance(event.data, models.SubaccountEventData)
    assert event.data.company_name == "Company name"
    assert event.data.email == "john@doe.com"
    assert event.data.phone == "+1234567890"
    assert event.data.country == "US"


def test_loyalty_complete_event() -> None:
    event = parse(documented("loyalty_complete"))
    assert isinstance(event, models.LoyaltyCompleteEvent)
    assert event.loyaltycard == "loy_1037746"
    assert event.statcode == "97raebv4nkcpjj1i444zh"
    assert event.subaccount == "sub_3427"


def test_wallet_user_created_event_decodes_its_user() -> None:
    event = parse(documented("loyalty_v3_created"))
    assert isinstance(event, models.WalletUserCreatedEvent)
    assert event.datetime == datetime(2024, 3, 21, 13, 13, 6, tzinfo=UTC)
    assert event.loyalty_id == 1
    assert isinstance(event.user, models.WalletUser)
    assert event.user.id == 1
    assert event.user.code == "zeexxegfjqz5r8fspglmd"
    assert event.user.email == "John@Doe.com"
    assert event.user.zip == "123456"
    assert event.user.custom_8 == "custom value 8"
    assert event.user.download_url == (
        "https://loyalty.coupontools.com/6epyy9/zeexxegfjqz5r8fspglmd"
    )


def test_landing_page_event_keeps_the_form_fields_and_decodes_the_utm_tags() -> None:
    event = parse(documented("lp_submission"))
    assert isinstance(event, models.LandingPageSubmissionEvent)
    assert event.landing_id == "lp_12345"
    assert event.target_coupon == "cam_1234567"
    assert event.target_statcode == "2e8g45wmyawppwubnk5r7"
    assert event.data == {"E-mail": "info@email.com", "phone": "11234567890"}
    assert isinstance(event.utm_tags, models.LandingPageUtmTags)
    assert event.utm_tags.utm_source == "examplesource"
    assert event.utm_tags.utm_campaign == "examplecampaign"
    assert event.utm_tags.custom8 == "customexamplevalue8"


def test_directory_registration_event_decodes_its_data() -> None:
    event = parse(documented("directory_registration"))
    assert isinstance(event, models.DirectoryRegistrationEvent)
    assert event.id == "922"
    assert isinstance(event.data, models.DirectoryRegistrationData)
    assert event.data.user_id == "5025"  # wire name userId
    assert event.data.birthday == date(1953, 2, 2)
    assert event.data.created_at == datetime(2023, 2, 16, 8, 11, 31, tzinfo=UTC)
    assert event.data.email == "test@test.test"


# ---------------------------------------------------------------------- type selection


@pytest.mark.parametrize(
    "event_type", ["coupon_claimed", "coupon_validated", "coupon_opened", "coupon_scratched"]
)
def test_every_coupon_event_type_is_a_coupon_event(event_type: str) -> None:
    payload = {**documented("coupon"), "type": event_type}
    event = parse(payload)
    assert isinstance(event, models.CouponEvent)
    assert event.type == event_type
    assert event.campaign == "cam_12345"


def test_an_exact_type_wins_over_the_coupon_prefix() -> None:
    assert event_model("coupon_created") is models.CouponCreatedEvent
    assert event_model("coupon_validated") is models.CouponEvent
    assert event_model("loyalty_v3_created") is models.WalletUserCreatedEvent
    assert event_model("coupons_exported") is None  # "coupons_" is not "coupon_"
    assert event_model("subaccount_deleted") is None


def test_an_unknown_type_gives_an_unknown_event_with_the_raw_data() -> None:
    payload = {
        "id": "evt_abc",
        "datetime": "2024-05-01 08:00:00",
        "type": "subaccount_deleted",
        "subaccount": "sub_1",
        "data": {"reason": ["x", 1]},
    }
    event = parse(json.dumps(payload).encode())
    assert event == UnknownEvent(
        id="evt_abc",
        type="subaccount_deleted",
        datetime=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        data=payload,
    )


def test_an_unknown_event_keeps_an_unreadable_datetime_in_its_data_only() -> None:
    event = parse({"id": 922, "type": "something_new", "datetime": "yesterday"})
    assert isinstance(event, UnknownEvent)
    assert event.id == "922"
    assert event.datetime is None
    assert event.data["datetime"] == "yesterday"
    assert parse({"id": "evt_1", "type": "something_new"}).datetime is None


def test_unknown_fields_of_a_known_event_are_ignored_and_kept_in_the_raw_payload() -> None:
    payload = {**documented("coupon_created"), "brand_new_field": {"a": 1}}
    event, raw = parse_with_raw(payload)
    assert isinstance(event, models.CouponCreatedEvent)
    assert raw["brand_new_field"] == {"a": 1}


def test_the_webhook_event_alias_names_every_model() -> None:
    assert set(typing.get_args(WebhookEvent)) == {*EVENT_MODELS, UnknownEvent}
    assert len(EVENT_MODELS) == 7


def test_a_utf8_bom_and_an_int_id_are_accepted() -> None:
    body = b"\xef\xbb\xbf" + json.dumps({**documented("loyalty_complete"), "id": 5}).encode()
    event = parse(body)
    assert isinstance(event, models.LoyaltyCompleteEvent)
    assert event.id == "5"


# ------------------------------------------------------------------------- malformed


def _with(key: str, **changes: Any) -> dict[str, Any]:
    payload = documented(key)
    for name, value in changes.items():
        if value is _DROP:
            del payload[name]
        else:
            payload[name] = value
    return payload


_DROP: Any = object()

MALFORMED: list[tuple[str, Any]] = [
    ("empty bytes", b""),
    ("empty text", ""),
    ("whitespace", "  \n "),
    ("not json", b"type=coupon_claimed&id=evt_1"),
    ("truncated json", json.dumps(BY_KEY["coupon"])[:-10]),
    ("not utf-8", b'{"id": "evt_\xff\xfe", "type": "coupon_claimed"}'),
    ("utf-16", json.dumps(BY_KEY["coupon_created"]).encode("utf-16")),
    ("a list", b"[]"),
    ("a string", b'"coupon_claimed"'),
    ("a number", b"42"),
    ("null", b"null"),
    ("NaN", b'{"id": "evt_1", "type": "x", "value": NaN}'),
    ("no type", _with("coupon", type=_DROP)),
    ("no id", _with("coupon", id=_DROP)),
    ("empty id", _with("coupon", id="")),
    ("null type", _with("coupon", type=None)),
    ("numeric type", _with("coupon", type=7)),
    ("boolean id", _with("coupon", id=True)),
    ("object id", _with("coupon", id={"evt": 1})),
    ("no datetime", _with("coupon_created", datetime=_DROP)),
    ("empty datetime", _with("coupon_created", datetime="")),
    ("bad datetime", _with("coupon_created", datetime="the 14th of January")),
    ("flag not a flag", _with("coupon", livemode="maybe")),
    ("nested list for object", _with("coupon", coupon=["u3s3dg"])),
    ("status a number", _with("coupon", status=5)),
    ("fractional loyalty id", _with("loyalty_v3_created", loyalty_id="1.5")),
    ("user without id", _with("loyalty_v3_created", user={"code": "abc"})),
    ("form field an object", _with("lp_submission", data={"E-mail": {"x": 1}})),
    ("form data a string", _with("lp_submission", data="E-mail=info@email.com")),
    ("directory user without userId", _with("directory_registration", data={"first_name": "x"})),
    ("deep json", "[" * 100_000 + "]" * 100_000),
    ("deep object", '{"id": "evt_1", "type": "x", "a": ' + '{"a": ' * 5000 + "1" + "}" * 5001),
    ("huge timestamp", '{"id": "evt_1", "type": "coupon_created", "datetime": ' + "9" * 5000 + "}"),
    ("not a body at all", 12345),
    ("None", None),
]


@pytest.mark.parametrize(("name", "body"), MALFORMED, ids=[name for name, _ in MALFORMED])
def test_malformed_bodies_raise_webhook_error(name: str, body: Any) -> None:
    with pytest.raises(WebhookError) as caught:
        parse(body)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, CoupontoolsError)
    message = str(caught.value)
    assert message
    assert len(message) < 200


def test_a_deep_mapping_is_refused_too() -> None:
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(10_000):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(WebhookError, match="nested too deeply"):
        parse({"id": "evt_1", "type": "coupon_claimed", "datetime": "2024-01-01", "x": nested})


# ---------------------------------------------------------------------------- property

_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children),
    max_leaves=30,
)
_SMALL_JSON = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "code", "x", ""]) | st.text(max_size=4), children)
    ),
    max_leaves=6,
)
_KNOWN_TYPES = [*sorted(EVENT_TYPES), "coupon_validated", "coupon_", "unknown_event"]
_FIELD_NAMES = sorted(
    {name for _, _, payload in DOCUMENTED for name in payload}
    | {"userId", "E-mail", "claimed", "claimed_date", "birthday", "id", "code"}
)


@st.composite
def _event_like(draw: st.DrawFn) -> dict[str, Any]:
    """A dict with a known type and junk (or plausible) values in documented fields."""
    payload: dict[str, Any] = draw(
        st.dictionaries(
            st.sampled_from(_FIELD_NAMES) | st.text(max_size=8), _SMALL_JSON, max_size=8
        )
    )
    payload["type"] = draw(st.sampled_from(_KNOWN_TYPES))
    if draw(st.integers(0, 3)):
        payload["id"] = draw(
            st.from_regex(r"evt_[A-Za-z0-9]{1,20}", fullmatch=True)
            | st.text(max_size=25)
            | st.integers()
        )
    if draw(st.integers(0, 3)):
        payload["datetime"] = draw(
            st.sampled_from(["2022-01-14 10:40:38", "2022-01-14", "", "0000-00-00", "13/07/2018"])
            | st.datetimes().map(str)
            | _JSON_SCALARS
        )
    if draw(st.booleans()):  # mutate a documented payload instead
        base = documented(draw(st.sampled_from(sorted(BY_KEY))))
        base.update(payload)
        return base
    return payload


def _parses_or_refuses(body: Any) -> None:
    try:
        event = parse(body)
    except WebhookError:
        return
    assert isinstance(event, (*EVENT_MODELS, UnknownEvent))
    assert isinstance(event.id, str)
    assert isinstance(event.type, str)


@settings(max_examples=1000, deadline=None)
@given(st.binary())
def test_arbitrary_bytes_parse_or_raise_webhook_error(body: bytes) -> None:
    _parses_or_refuses(body)


@settings(max_examples=1000, deadline=None)
@given(_JSON)
def test_arbitrary_json_parses_or_raises_webhook_error(value: Any) -> None:
    _parses_or_refuses(json.dumps(value))
    _parses_or_refuses(value)


@settings(max_examples=1000, deadline=None)
@given(_event_like())
def test_event_like_dicts_parse_or_raise_webhook_error(payload: dict[str, Any]) -> None:
    _parses_or_refuses(payload)
    _parses_or_refuses(json.dumps(payload).encode())


# ------------------------------------------------------------------------ verification


@pytest.fixture
def sandbox() -> Sandbox:
    sandbox = Sandbox(seed=3)
    sandbox.state.wallet.new_card(name="Coffee club", type="stamp", reward_name="Free coffee")
    return sandbox


@pytest.fixture
async def ct(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with sandbox.client(max_retries=0) as client:
        yield client


async def _emitted_event(sandbox: Sandbox, ct: AsyncClient) -> dict[str, Any]:
    card_id = next(iter(sandbox.state.wallet.cards))
    await ct.wallet_users.create(card_id, first_name="Ann", email="ann@example.com")
    event: dict[str, Any] = sandbox.state.events[-1]
    return event


async def test_an_event_the_sandbox_emitted_verifies(sandbox: Sandbox, ct: AsyncClient) -> None:
    raw = await _emitted_event(sandbox, ct)
    event = parse(json.dumps(raw))
    assert isinstance(event, models.WalletUserCreatedEvent)
    assert event.user is not None
    assert event.user.first_name == "Ann"
    verification = await verify(ct, event)
    assert isinstance(verification, models.WebhookVerification)
    assert verification.webhook == event.id
    assert verification.type == "loyalty_v3_created"
    assert await verify(ct, event.id) == verification  # an id alone works too


async def test_a_made_up_event_id_is_not_genuine(ct: AsyncClient) -> None:
    forged = {**documented("loyalty_v3_created"), "id": "evt_MadeUpMadeUpMadeUp00"}
    assert await verify(ct, parse(forged)) is None
    assert await verify(ct, "evt_123") is None


async def test_a_genuine_id_with_another_type_is_not_genuine(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    raw = await _emitted_event(sandbox, ct)
    replayed = {**documented("coupon"), "id": raw["id"]}  # a real id on a forged claim
    assert await verify(ct, parse(replayed)) is None


async def test_an_id_the_endpoint_cannot_take_is_not_genuine_without_asking(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    event = parse(documented("directory_registration"))  # id "922"
    assert not is_verifiable(event)
    assert is_verifiable("evt_6paDkhIBCpWrUK8ne7rT")
    assert await verify(ct, event) is None
    assert sandbox.calls.get("webhooks_verify", 0) == 0


async def test_a_failing_verification_call_raises(sandbox: Sandbox) -> None:
    event = parse(documented("coupon"))
    sandbox.faults.inject(rate=1.0, kinds=["500"], routes=["webhooks_verify"])
    async with sandbox.client(max_retries=0) as ct:
        with pytest.raises(ServerError):
            await verify(ct, event)
    async with AsyncClient(
        "wrong-client-id", "wrong-client-secret", transport=sandbox.transport()
    ) as stranger:
        with pytest.raises(AuthenticationError):
            await verify(stranger, event)


async def test_parse_and_verify(sandbox: Sandbox, ct: AsyncClient) -> None:
    raw = await _emitted_event(sandbox, ct)
    event, verification = await parse_and_verify(ct, json.dumps(raw).encode())
    assert event.id == raw["id"]
    assert verification is not None
    assert verification.webhook == raw["id"]
    forged, none = await parse_and_verify(ct, documented("coupon"))
    assert isinstance(forged, models.CouponEvent)
    assert none is None
    with pytest.raises(WebhookError):
        await parse_and_verify(ct, b"not json")


async def test_webhooks_delivered_by_the_sandbox_parse_and_verify() -> None:
    received: list[WebhookEvent] = []
    sandbox = Sandbox(seed=5)

    def collect(payload: dict[str, Any]) -> None:
        received.append(parse(json.dumps(payload)))

    sandbox.on_webhook = collect
    card = sandbox.state.wallet.new_card(name="Tea club", type="stamp", reward_name="Tea")
    async with sandbox.client(max_retries=0) as ct:
        user = await ct.wallet_users.create(card.id, first_name="Bo")
        [event] = received
        assert isinstance(event, models.WalletUserCreatedEvent)
        assert event.loyalty_id == card.id
        assert event.user is not None
        assert event.user.id == user.id
        assert await verify(ct, event) is not None


# ------------------------------------------------- verification, field by field (FACTS)


def _legacy_answer(**fields: Any) -> dict[str, Any]:
    """The verification answer as FACTS.md's legacy page shows it (every key optional)."""
    return {"status": {"status": "OK"}, **fields}


async def _verify_against(answer: dict[str, Any], event: Any) -> models.WebhookVerification | None:
    import respx

    with respx.mock(base_url="https://api.test") as mock:
        mock.post("/v4/webhook/verification").respond(200, json=answer)
        async with AsyncClient("id", "secret", base_url="https://api.test", max_retries=0) as ct:
            return await verify(ct, event)


GENUINE = {
    "result": "valid",
    "webhook": "evt_6paDkhIBCpWrUK8ne7rT",
    "date": "2022-01-14 10:40:38",
    "campaign": "cam_12345",
    "session": "2e8g45wmyawppwubnk5r7",
    "type": "coupon_claimed",
}


async def test_an_event_matching_every_field_of_the_legacy_answer_is_verified() -> None:
    verification = await _verify_against(_legacy_answer(**GENUINE), parse(documented("coupon")))
    assert verification is not None
    assert (verification.result, verification.campaign, verification.session) == (
        "valid",
        "cam_12345",
        "2e8g45wmyawppwubnk5r7",
    )


@pytest.mark.parametrize(
    ("field", "tampered"),
    [
        ("campaign", "cam_attacker"),
        ("session", "madeupsession000000000"),
        ("coupon_code", "madeupsession000000000"),
        ("type", "coupon_validated"),
    ],
)
async def test_a_genuine_id_carrying_another_campaign_or_session_is_refused(
    field: str, tampered: str
) -> None:
    payload = documented("coupon")
    payload[field] = tampered
    if field == "coupon_code":
        del payload["session"]  # the session travels as coupon_code only
    assert await _verify_against(_legacy_answer(**GENUINE), parse(payload)) is None


async def test_an_answer_about_another_event_id_is_refused() -> None:
    answer = _legacy_answer(**{**GENUINE, "webhook": "evt_SomeOtherEvent000000"})
    assert await _verify_against(answer, parse(documented("coupon"))) is None


async def test_an_event_lacking_a_field_the_answer_carries_is_refused() -> None:
    payload = documented("coupon")
    del payload["campaign"]
    assert await _verify_against(_legacy_answer(**GENUINE), parse(payload)) is None


async def test_fields_the_answer_does_not_carry_are_not_required_and_customer_data_is_unchecked() -> (
    None
):
    payload = documented("coupon")
    payload["customer"] = {"first_name": "Mallory", "email": "attacker@example.com"}
    only_id = _legacy_answer(result="valid", webhook=GENUINE["webhook"])
    verification = await _verify_against(only_id, parse(payload))
    assert verification is not None  # nothing contradicts it; the customer is the sender's claim
    assert mismatch(parse(payload), models.WebhookVerification(campaign="cam_other")) == "campaign"
