"""The sandbox's coupons and sessions: state machine, batch updates, lists, search, sends.

Every test goes through a real client talking to the sandbox in process and asserts what
a user sees: decoded models, and errors with the documented v3 codes and texts.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from coupontools_async import AsyncClient, errors, models
from coupontools_async._convert import structure
from coupontools_async._generated import OPERATIONS
from coupontools_async.sandbox import Sandbox, SandboxConfig
from coupontools_async.sandbox._campaigns import Session
from coupontools_async.sandbox._core import HANDLERS, Call, V3Failure

pytestmark = pytest.mark.anyio

UTC = timezone.utc
PAST = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
CAMPAIGN = "cam_1000001"
OTHER = "cam_1000002"


@pytest.fixture
def sandbox() -> Sandbox:
    sb = Sandbox(config=SandboxConfig(session_page_size=10))
    coupons = sb.state.coupons
    coupons.folders["fol_1"] = "Seasonal"
    coupons.add_campaign(
        CAMPAIGN,
        code="sum24",
        name="Summer sale",
        title="10% off",
        folder="fol_1",
        tags=("summer", "sale"),
        category="cat_1",
    )
    coupons.add_campaign(
        OTHER, code="win24", name="Winter sale", status="inactive", tags=("winter",)
    )
    return sb


@pytest.fixture
async def ct(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with sandbox.client(max_retries=0) as client:
        yield client


def arrange(sandbox: Sandbox, start: str, campaign: str = CAMPAIGN, **fields: Any) -> Session:
    """A session in a named state, put straight into the sandbox's state."""
    coupons = sandbox.state.coupons
    session = coupons.add_session(campaign, created_at=PAST, **fields)
    later = PAST + timedelta(minutes=5)
    if start != "new":
        session.opened_at = later
    if start in ("claimed", "validated", "locked", "voided_claimed"):
        session.claimed_at, session.claimtype = later, "form"
    if start == "validated":
        session.validated_at = later
    if start == "locked":
        session.locked = True
    if start in ("voided", "voided_claimed"):
        session.voided_at = later
    if start == "expired":
        session.expiry = PAST
    if start == "not_started":
        session.start_at = datetime(2099, 1, 1, tzinfo=UTC)
    return session


async def status_of(ct: AsyncClient, code: str) -> models.CouponSessionStatus:
    got = await ct.sessions.get(couponsession=code)
    assert got.data is not None
    assert got.data.status is not None
    return got.data.status


# ------------------------------------------------------------- state machine

LEGAL = [
    ("new", "void", {"voided": True}),
    ("voided", "unvoid", {"voided": False}),
    ("claimed", "lock", {"locked": True}),
    ("locked", "unlock", {"locked": False}),
    ("new", "claim", {"claimed": True, "opened": True, "validated": False}),
    ("opened", "claim", {"claimed": True}),
    ("new", "validate", {"claimed": True, "validated": True}),
    ("claimed", "validate", {"claimed": True, "validated": True}),
    ("validated", "unvalidate", {"claimed": True, "validated": False}),
    ("voided", "activate", {"voided": False}),
    ("validated", "void", {"voided": True, "validated": True}),
    ("voided_claimed", "unvoid", {"voided": False, "claimed": True}),
]


@pytest.mark.parametrize(("start", "operation", "expected"), LEGAL)
async def test_update_moves_the_session_to_the_new_state(
    sandbox: Sandbox, ct: AsyncClient, start: str, operation: Any, expected: dict[str, bool]
) -> None:
    session = arrange(sandbox, start)
    answer = await ct.sessions.update(couponsession=session.code, operation=operation)
    assert answer.session == session.code
    assert answer.campaign == CAMPAIGN
    status = await status_of(ct, session.code)
    for flag, value in expected.items():
        assert getattr(status, flag) is value, flag


ILLEGAL = [
    ("voided", "void", 355, "Session was already voided"),
    ("new", "unvoid", 357, "Session wasn't voided"),
    ("claimed", "unvoid", 357, "Session wasn't voided"),
    ("voided_claimed", "lock", 355, "Session could not be locked because it is voided"),
    ("validated", "lock", 358, "Session could not be locked because it is already validated"),
    ("new", "lock", 352, "Session could not be locked because it is not claimed"),
    ("opened", "lock", 352, "Session could not be locked because it is not claimed"),
    ("locked", "lock", 354, "Session already was locked before"),
    ("voided", "unlock", 355, "Session could not be unlocked because it is voided"),
    ("claimed", "unlock", 356, "Session was already unlocked"),
    ("expired", "claim", 351, "Session or coupon has expired"),
    ("voided", "claim", 355, "This coupon is voided"),
    ("locked", "claim", 354, "This coupon is locked"),
    ("claimed", "claim", 352, "Session already was claimed before"),
    ("validated", "claim", 352, "Session already was claimed before"),
    ("expired", "validate", 351, "Session or coupon has expired"),
    ("voided", "validate", 355, "This coupon is voided"),
    ("locked", "validate", 354, "This coupon is locked"),
    ("validated", "validate", 358, "This session was already validated"),
    ("claimed", "unvalidate", 353, "Session was already unvalidated"),
    ("new", "unvalidate", 353, "Session was already unvalidated"),
    ("not_started", "claim", 360, "Startdate not reached"),
]


@pytest.mark.parametrize(("start", "operation", "code", "text"), ILLEGAL)
async def test_illegal_update_fails_with_the_documented_code_and_changes_nothing(
    sandbox: Sandbox, ct: AsyncClient, start: str, operation: Any, code: int, text: str
) -> None:
    session = arrange(sandbox, start)
    before = await status_of(ct, session.code)
    with pytest.raises(errors.ConflictError) as caught:
        await ct.sessions.update(
            couponsession=session.code, operation=operation, customfield1="changed"
        )
    assert caught.value.codes == (code,)
    assert caught.value.messages == (text,)
    assert await status_of(ct, session.code) == before
    assert session.custom_fields[0] == ""
    assert sandbox.state.events == []


async def test_a_coupon_past_its_expiry_refuses_claims(sandbox: Sandbox, ct: AsyncClient) -> None:
    sandbox.state.coupons.campaigns[CAMPAIGN].expiry = PAST
    session = arrange(sandbox, "opened")
    with pytest.raises(errors.ConflictError) as caught:
        await ct.sessions.update(couponsession=session.code, operation="claim")
    assert caught.value.codes == (351,)


async def test_activate_starts_a_session_and_computes_a_flexible_expiry(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    sandbox.state.coupons.campaigns[CAMPAIGN].flexible_expiry = timedelta(days=30)
    session = arrange(sandbox, "not_started", voided_at=PAST, expiry=PAST)
    await ct.sessions.update(couponsession=session.code, operation="activate")
    expiry = session.expires_at()
    assert expiry is not None
    assert expiry > datetime.now(UTC) + timedelta(days=29)
    await ct.sessions.update(couponsession=session.code, operation="claim")
    assert (await status_of(ct, session.code)).claimed is True


async def test_custom_data_updates_without_an_operation(sandbox: Sandbox, ct: AsyncClient) -> None:
    session = arrange(sandbox, "claimed")
    answer = await ct.sessions.update(
        couponsession=session.code, customfield3="gold", customid="abc123", money_spent=12.5
    )
    assert answer.action == "session_updated"
    got = await ct.sessions.get(couponsession=session.code)
    assert got.customid == "abc123"
    assert session.custom_fields[2] == "gold"
    assert session.money_spent == 12.5


async def test_update_with_nothing_to_do_is_refused(sandbox: Sandbox, ct: AsyncClient) -> None:
    session = arrange(sandbox, "new")
    with pytest.raises(errors.InvalidRequestError) as caught:
        await ct.sessions.update(couponsession=session.code)
    assert caught.value.codes == (200,)


async def test_unknown_session_is_512_on_update_and_513_on_get(ct: AsyncClient) -> None:
    with pytest.raises(errors.NotFoundError) as on_update:
        await ct.sessions.update(couponsession="nosuchsession", operation="claim")
    assert on_update.value.codes == (512,)
    assert on_update.value.messages == ("Coupon session not found",)
    with pytest.raises(errors.NotFoundError) as on_get:
        await ct.sessions.get(couponsession="nosuchsession")
    assert on_get.value.codes == (513,)


async def test_claim_emits_a_coupon_claimed_webhook(sandbox: Sandbox, ct: AsyncClient) -> None:
    session = arrange(
        sandbox, "opened", email="ann@example.com", firstname="Ann", validation_code="SUMMER1"
    )
    await ct.sessions.update(couponsession=session.code, operation="claim")
    [raw] = sandbox.state.events
    event = structure(raw, models.CouponEvent)
    assert event.type == "coupon_claimed"
    assert event.id.startswith("evt_")
    assert event.session == event.coupon_code == session.code
    assert event.campaign == CAMPAIGN
    assert event.coupon_url == session.url
    assert event.coupon is not None
    assert event.coupon.coupon_code == "sum24"
    assert event.coupon.custom_validation_code == "SUMMER1"
    assert event.status is not None
    assert event.status.claimed is True
    assert event.status.validated is False
    assert event.status.claimed_date is not None
    assert event.customer is not None
    assert event.customer.email == "ann@example.com"
    assert event.customer.first_name == "Ann"


async def test_validating_an_unclaimed_session_claims_it_and_emits_both_events(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    session = arrange(sandbox, "new")
    await ct.sessions.update(couponsession=session.code, operation="validate")
    assert [e["type"] for e in sandbox.state.events] == ["coupon_claimed", "coupon_validated"]
    validated = structure(sandbox.state.events[1], models.CouponEvent)
    assert validated.status is not None
    assert validated.status.validated is True


# ------------------------------------------------------------------ batch


def arrange_range(sandbox: Sandbox, starts: list[str], campaign: str = CAMPAIGN) -> list[int]:
    return [arrange(sandbox, start, campaign).sequence for start in starts]


async def test_batch_update_applies_the_operation_to_the_whole_range(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    before = arrange(sandbox, "new")
    sequences = arrange_range(sandbox, ["new", "opened", "new"])
    after = arrange(sandbox, "new")
    answer = await ct.sessions.update_batch(
        campaign=CAMPAIGN, startsequence=sequences[0], endsequence=sequences[-1], operation="claim"
    )
    assert (answer.startsequence, answer.endsequence) == (sequences[0], sequences[-1])
    coupons = sandbox.state.coupons
    assert all(coupons.by_sequence[s].claimed for s in sequences)
    assert not before.claimed
    assert not after.claimed
    assert len([e for e in sandbox.state.events if e["type"] == "coupon_claimed"]) == 3


async def test_batch_with_only_a_start_runs_to_the_end_and_only_an_end_from_the_start(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    sequences = arrange_range(sandbox, ["new"] * 5)
    await ct.sessions.update_batch(campaign=CAMPAIGN, startsequence=sequences[3], operation="void")
    await ct.sessions.update_batch(campaign=CAMPAIGN, endsequence=sequences[1], operation="void")
    by_sequence = sandbox.state.coupons.by_sequence
    assert [by_sequence[s].voided for s in sequences] == [True, True, False, True, True]


async def test_batch_sets_custom_fields_without_an_operation(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    sequences = arrange_range(sandbox, ["new", "claimed"])
    answer = await ct.sessions.update_batch(
        campaign=CAMPAIGN, startsequence=sequences[0], customfield7="batch-1"
    )
    assert answer.action == "sessions_updated"
    assert [sandbox.state.coupons.by_sequence[s].custom_fields[6] for s in sequences] == [
        "batch-1",
        "batch-1",
    ]


BATCH_ILLEGAL = [
    ("void", ["new", "voided"], 355, "Some session(s) were already voided"),
    ("unvoid", ["voided", "new"], 357, "Some session(s) weren't voided"),
    ("lock", ["claimed", "opened"], 359, "Some session(s) weren't claimed"),
    ("lock", ["claimed", "locked"], 354, "Some session(s) were already locked"),
    ("lock", ["claimed", "validated"], 358, "Some session(s) were already validated"),
    ("lock", ["claimed", "voided_claimed"], 355, "Some session(s) were already voided"),
    ("unlock", ["locked", "claimed"], 356, "Some session(s) weren't locked"),
    ("claim", ["new", "claimed"], 352, "Some session(s) were already claimed"),
    (
        "claim",
        ["new", "voided"],
        355,
        "Some session(s) could not be claimed because they're voided",
    ),
    ("claim", ["new", "locked"], 354, "Some session(s) were already locked"),
    ("claim", ["new", "expired"], 351, "Some session(s) are expired"),
    ("claim", ["new", "not_started"], 360, "Startdate not reached"),
]


@pytest.mark.parametrize(("operation", "starts", "code", "text"), BATCH_ILLEGAL)
async def test_batch_fails_whole_when_one_session_cannot_take_the_operation(
    sandbox: Sandbox, ct: AsyncClient, operation: Any, starts: list[str], code: int, text: str
) -> None:
    sequences = arrange_range(sandbox, starts)
    first = sandbox.state.coupons.by_sequence[sequences[0]]
    snapshot = (first.claimed_at, first.voided_at, first.locked, first.custom_fields[:])
    with pytest.raises(errors.ConflictError) as caught:
        await ct.sessions.update_batch(
            campaign=CAMPAIGN,
            startsequence=sequences[0],
            endsequence=sequences[-1],
            operation=operation,
            customfield1="x",
        )
    assert caught.value.codes == (code,)
    assert caught.value.messages == (text,)
    # All or nothing: the session that could take the operation did not.
    assert (first.claimed_at, first.voided_at, first.locked, first.custom_fields) == snapshot
    assert sandbox.state.events == []


async def test_batch_range_errors(sandbox: Sandbox, ct: AsyncClient) -> None:
    mine = arrange_range(sandbox, ["new", "new"])
    theirs = arrange_range(sandbox, ["new", "new"], campaign=OTHER)

    async def refused(**kwargs: Any) -> tuple[tuple[int, ...], tuple[str, ...]]:
        with pytest.raises(errors.APIError) as caught:
            await ct.sessions.update_batch(operation="void", **kwargs)
        return caught.value.codes, caught.value.messages

    missing = 99_999_999
    assert await refused(campaign=CAMPAIGN, startsequence=missing, endsequence=mine[1]) == (
        (513,),
        ("Start ID not found",),
    )
    assert await refused(campaign=CAMPAIGN, startsequence=mine[0], endsequence=missing) == (
        (513,),
        ("End ID not found",),
    )
    assert await refused(campaign=CAMPAIGN, startsequence=mine[1], endsequence=mine[0]) == (
        (513,),
        ("End ID comes before start ID",),
    )
    assert await refused(campaign=CAMPAIGN, startsequence=mine[0], endsequence=theirs[1]) == (
        (502,),
        ("Provided start and end are not of the same campaign",),
    )
    assert await refused(campaign=CAMPAIGN, startsequence=theirs[0], endsequence=theirs[1]) == (
        (502,),
        ("Provided start and end are not of the provided campaign",),
    )
    assert await refused(campaign=CAMPAIGN, startsequence=theirs[0]) == (
        (513,),
        ("Start ID not found or not part of the campaign",),
    )
    assert await refused(campaign=CAMPAIGN, endsequence=theirs[0]) == (
        (513,),
        ("End ID not found or not part of the campaign",),
    )
    assert (await refused(campaign="cam_404", startsequence=mine[0]))[0] == (502,)
    assert not any(s.voided for s in sandbox.state.coupons.sessions.values())


async def test_batch_without_operation_or_data_is_refused(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    [sequence] = arrange_range(sandbox, ["new"])
    with pytest.raises(errors.InvalidRequestError) as caught:
        await ct.sessions.update_batch(campaign=CAMPAIGN, startsequence=sequence)
    assert caught.value.codes == (200,)
    assert caught.value.messages == ("no operation or data provided",)


async def test_batch_without_any_sequence_is_refused(ct: AsyncClient) -> None:
    with pytest.raises(errors.CoupontoolsError):
        await ct.sessions.update_batch(campaign=CAMPAIGN, operation="void")


# ------------------------------------------------------------------ lists


async def test_lists_page_by_the_configured_size_in_sequence_order(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    sequences = arrange_range(sandbox, ["new"] * 25)
    arrange_range(sandbox, ["new"] * 3, campaign=OTHER)
    pages = [await ct.sessions.list(campaign=CAMPAIGN, page=n) for n in (1, 2, 3, 4)]
    assert [len(p.data or []) for p in pages] == [10, 10, 5, 0]
    assert [p.amount_of_results for p in pages] == [10, 10, 5, 0]
    assert pages[3].data == []  # an empty page has no data key (evidence): read as []
    listed = [s.sequenceid for p in pages for s in p.data or []]
    assert listed == sequences
    first = await ct.sessions.list(campaign=CAMPAIGN)
    assert first == pages[0]


async def test_each_list_holds_the_sessions_of_its_state(sandbox: Sandbox, ct: AsyncClient) -> None:
    starts = ["new", "opened", "claimed", "validated", "voided", "locked"]
    codes = {start: arrange(sandbox, start).code for start in starts}
    expected = {
        "all": set(codes.values()),
        "opened": {codes[s] for s in starts if s != "new"},
        "claimed": {codes[s] for s in ("claimed", "validated", "locked")},
        "validated": {codes["validated"]},
    }
    for state, want in expected.items():
        got = await ct.sessions.list(campaign=CAMPAIGN, state=state)  # type: ignore[arg-type]
        assert {s.session for s in got.data or []} == want, state


async def test_lists_follow_changes_made_between_calls(sandbox: Sandbox, ct: AsyncClient) -> None:
    session = arrange(sandbox, "opened")
    empty = await ct.sessions.list(campaign=CAMPAIGN, state="claimed")
    assert (empty.amount_of_results, empty.data) == (0, [])
    await ct.sessions.update(couponsession=session.code, operation="claim")
    claimed = await ct.sessions.list(campaign=CAMPAIGN, state="claimed")
    assert [s.session for s in claimed.data or []] == [session.code]


async def test_date_bounds_are_inclusive_utc(sandbox: Sandbox, ct: AsyncClient) -> None:
    days = [datetime(2024, 3, d, 12, 30, tzinfo=UTC) for d in (1, 2, 3, 4)]
    sessions = [arrange(sandbox, "new") for _ in days]
    for session, day in zip(sessions, days, strict=True):
        session.created_at = day
    sandbox.state.coupons.campaigns[CAMPAIGN].touch()

    async def listed(**bounds: Any) -> list[str]:
        page = await ct.sessions.list(campaign=CAMPAIGN, **bounds)
        return [s.session for s in page.data or []]

    codes = [s.code for s in sessions]
    assert await listed(start_date="2024-03-02", end_date="2024-03-03") == codes[1:3]
    assert await listed(start_date="2024-03-02 12:30") == codes[1:]
    assert await listed(start_date="2024-03-02 12:31") == codes[2:]
    assert await listed(end_date="2024-03-03 12:30") == codes[:3]
    assert await listed(end_date=datetime(2024, 3, 3, 12, 29, tzinfo=UTC)) == codes[:2]


async def test_claim_list_filters_by_claim_date(sandbox: Sandbox, ct: AsyncClient) -> None:
    early = arrange(sandbox, "claimed")
    late = arrange(sandbox, "claimed")
    late.claimed_at = datetime(2024, 5, 1, tzinfo=UTC)
    sandbox.state.coupons.campaigns[CAMPAIGN].touch()
    page = await ct.sessions.list(campaign=CAMPAIGN, state="claimed", start_date="2024-04-01")
    assert [s.session for s in page.data or []] == [late.code]
    assert early.code != late.code


async def test_list_of_an_unknown_campaign_is_502(ct: AsyncClient) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        await ct.sessions.list(campaign="cam_404")
    assert caught.value.codes == (502,)
    assert caught.value.messages == ("Campaign ID not found",)


@pytest.mark.parametrize("state", ["all", "opened", "claimed", "validated"])
async def test_iter_yields_every_session_of_a_seeded_coupon_exactly_once(state: Any) -> None:
    sandbox = Sandbox.seeded(seed=4, sessions=400, config=SandboxConfig(session_page_size=7))
    campaign = sandbox.state.coupons.campaigns[CAMPAIGN]
    want: Callable[[Session], bool] = {
        "all": lambda s: True,
        "opened": lambda s: s.opened_at is not None,
        "claimed": lambda s: s.claimed,
        "validated": lambda s: s.validated,
    }[state]
    expected = [s.sequence for s in campaign.sessions.values() if want(s)]
    assert len(expected) > 14
    async with sandbox.client() as ct:
        seen = [s.sequenceid async for s in ct.sessions.iter(campaign=CAMPAIGN, state=state)]
    assert seen == expected


# ----------------------------------------------------------------- search


async def test_search_finds_sessions_by_code_email_and_phone(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    ann = arrange(sandbox, "new", email="ann@example.com", phone="+32470000001")
    ann_too = arrange(sandbox, "claimed", OTHER, email="ann@example.com")
    coded = arrange(sandbox, "new", validation_code="GIFT12345")
    by_email = await ct.sessions.search(email="ann@example.com")
    assert [s.session for s in by_email.data or []] == [ann.code, ann_too.code]
    by_phone = await ct.sessions.search(phone="+32470000001")
    assert [s.session for s in by_phone.data or []] == [ann.code]
    by_code = await ct.sessions.search(code="GIFT12345")
    assert [s.session for s in by_code.data or []] == [coded.code]
    both = await ct.sessions.search(email="ann@example.com", phone="+32470000001")
    assert [s.session for s in both.data or []] == [ann.code]


async def test_search_in_a_campaign_keeps_to_it(sandbox: Sandbox, ct: AsyncClient) -> None:
    arrange(sandbox, "new", email="ann@example.com")
    theirs = arrange(sandbox, "new", OTHER, email="ann@example.com")
    found = await ct.sessions.search(email="ann@example.com", campaign=OTHER)
    assert found.campaign == OTHER
    assert [s.session for s in found.data or []] == [theirs.code]


async def test_search_errors(sandbox: Sandbox, ct: AsyncClient) -> None:
    arrange(sandbox, "new", email="ann@example.com")
    with pytest.raises(errors.NotFoundError) as nothing:
        await ct.sessions.search(email="bob@example.com")
    assert nothing.value.codes == (512,)
    assert nothing.value.messages == ("No results found",)
    with pytest.raises(errors.NotFoundError) as unknown:
        await ct.sessions.search(email="ann@example.com", campaign="cam_404")
    assert unknown.value.codes == (502,)
    assert unknown.value.messages == ("campaign not found",)
    with pytest.raises(errors.CoupontoolsError):
        await ct.sessions.search()
    with pytest.raises(errors.CoupontoolsError):
        await ct.sessions.search(code="abc")


def direct(sandbox: Sandbox, operation_id: str, body: dict[str, Any]) -> Any:
    """Call a handler without the client and the sandbox's validation in front of it."""
    call = Call(
        op=OPERATIONS[operation_id],
        path={},
        body=body,
        state=sandbox.state,
        emit=lambda kind, payload: {**payload, "type": kind, "id": "evt_test"},
    )
    return HANDLERS[operation_id](call)


def test_search_without_a_filter_says_so(sandbox: Sandbox) -> None:
    with pytest.raises(V3Failure) as caught:
        direct(sandbox, "sessions_search", {})
    assert (caught.value.code, caught.value.message) == (200, "No filter defined")


# ---------------------------------------------------------- delete, barcode


async def test_delete_removes_the_session_everywhere(sandbox: Sandbox, ct: AsyncClient) -> None:
    session = arrange(sandbox, "claimed", email="ann@example.com")
    keep = arrange(sandbox, "claimed")
    answer = await ct.sessions.delete(campaign=CAMPAIGN, couponsession=session.code)
    assert answer.session == session.code
    with pytest.raises(errors.NotFoundError) as caught:
        await ct.sessions.get(couponsession=session.code)
    assert caught.value.codes == (513,)
    listed = await ct.sessions.list(campaign=CAMPAIGN)
    assert [s.session for s in listed.data or []] == [keep.code]
    with pytest.raises(errors.NotFoundError):
        await ct.sessions.search(email="ann@example.com")


async def test_delete_errors(sandbox: Sandbox, ct: AsyncClient) -> None:
    session = arrange(sandbox, "new")
    with pytest.raises(errors.NotFoundError) as unknown:
        await ct.sessions.delete(campaign=CAMPAIGN, couponsession="nosuchsession")
    assert unknown.value.codes == (513,)
    with pytest.raises(errors.NotFoundError) as elsewhere:
        await ct.sessions.delete(campaign=OTHER, couponsession=session.code)
    assert elsewhere.value.codes == (513,)
    with pytest.raises(errors.NotFoundError) as no_campaign:
        await ct.sessions.delete(campaign="cam_404", couponsession=session.code)
    assert no_campaign.value.codes == (502,)
    assert session.code in sandbox.state.coupons.sessions


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, checking its signature and header checksum."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    header = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(b"IHDR" + header)
    width, height = struct.unpack(">II", header[:8])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


@pytest.mark.parametrize("kind", ["code39", "code128b", "pdf417", "aztec", "qrcode"])
async def test_barcode_is_a_png(sandbox: Sandbox, ct: AsyncClient, kind: Any) -> None:
    session = arrange(sandbox, "claimed")
    image = await ct.sessions.barcode(couponsession=session.code, type=kind)
    width, height = png_size(image)
    assert width > 0
    assert height > 0


async def test_barcode_of_an_unknown_session_is_the_documented_400(ct: AsyncClient) -> None:
    with pytest.raises(errors.APIError) as caught:
        await ct.sessions.barcode(couponsession="nosuchsession", type="qrcode")
    assert caught.value.codes == (400,)
    assert caught.value.messages == ("Couponsession nosuchsession does not exist",)


# ------------------------------------------------------------- single use


async def test_single_use_create_prefills_the_session(sandbox: Sandbox, ct: AsyncClient) -> None:
    made = await ct.single_use.create(
        campaign=CAMPAIGN,
        firstname="Ann",
        email="ann@example.com",
        phone="+32470000001",
        customid="c42",
        customfield2="vip",
        customvalcode="ANNCODE1",
    )
    assert made.single_use_url == f"https://coupon.coupontools.com/sum24?s={made.single_use_code}"
    assert made.widget_validation_code is not None
    session = sandbox.state.coupons.sessions[made.single_use_code]
    assert (session.firstname, session.customid, session.custom_fields[1]) == ("Ann", "c42", "vip")
    found = await ct.sessions.search(code="ANNCODE1")
    assert [s.session for s in found.data or []] == [made.single_use_code]
    got = await ct.sessions.get(couponsession=made.single_use_code)
    assert got.customid == "c42"
    assert got.data is not None
    assert got.data.status is not None
    assert got.data.status.opened is False
    assert got.data.status.claimed is False


async def test_single_use_codes_are_21_lowercase_characters_with_rising_sequences(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    codes = [(await ct.single_use.create(campaign=CAMPAIGN)).single_use_code for _ in range(3)]
    assert all(len(c) == 21 and c.isalnum() and c == c.lower() for c in codes)
    sequences = [sandbox.state.coupons.sessions[c].sequence for c in codes]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3


async def test_custom_validation_codes_are_unique_per_campaign(ct: AsyncClient) -> None:
    await ct.single_use.create(campaign=CAMPAIGN, customvalcode="SAME12345")
    with pytest.raises(errors.InvalidRequestError) as caught:
        await ct.single_use.create(campaign=CAMPAIGN, customvalcode="SAME12345")
    assert caught.value.codes == (300,)
    await ct.single_use.create(campaign=OTHER, customvalcode="SAME12345")


@pytest.mark.parametrize(("kind", "digits"), [("6digits", 6), ("8digits", 8), ("10digits", 10)])
async def test_autovalcode_gives_a_unique_numeric_code(
    sandbox: Sandbox, ct: AsyncClient, kind: Any, digits: int
) -> None:
    made = [await ct.single_use.create(campaign=CAMPAIGN, autovalcode=kind) for _ in range(5)]
    codes = [sandbox.state.coupons.sessions[m.single_use_code].validation_code for m in made]
    assert all(c is not None and len(c) == digits and c.isdigit() for c in codes)
    assert len(set(codes)) == 5


@pytest.mark.parametrize(
    ("field", "first", "second"),
    [
        ("email", {"email": "ann@example.com"}, {"email": "bob@example.com"}),
        ("phone", {"phone": "+32470000001"}, {"phone": "+32470000002"}),
        ("customid", {"customid": "c1"}, {"customid": "c2"}),
    ],
)
async def test_duplicate_check_returns_the_existing_session(
    ct: AsyncClient, field: Any, first: dict[str, Any], second: dict[str, Any]
) -> None:
    original = await ct.single_use.create(campaign=CAMPAIGN, duplicate_check=field, **first)
    again = await ct.single_use.create(campaign=CAMPAIGN, duplicate_check=field, **first)
    assert again == original
    other = await ct.single_use.create(campaign=CAMPAIGN, duplicate_check=field, **second)
    assert other.single_use_code != original.single_use_code
    elsewhere = await ct.single_use.create(campaign=OTHER, duplicate_check=field, **first)
    assert elsewhere.single_use_code != original.single_use_code
    unchecked = await ct.single_use.create(campaign=CAMPAIGN, **first)
    assert unchecked.single_use_code != original.single_use_code


async def test_expiry_date_overrides_the_campaign_expiry(ct: AsyncClient) -> None:
    made = await ct.single_use.create(campaign=CAMPAIGN, expiry_date="2024-01-01 00:00:00")
    with pytest.raises(errors.ConflictError) as caught:
        await ct.sessions.update(couponsession=made.single_use_code, operation="claim")
    assert caught.value.codes == (351,)


async def test_single_use_on_an_unknown_campaign_is_502(ct: AsyncClient) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        await ct.single_use.create(campaign="cam_404")
    assert caught.value.codes == (502,)
    with pytest.raises(errors.NotFoundError):
        await ct.single_use.create_many(campaign="cam_404")


async def test_create_many_makes_ten_by_default_with_consecutive_sequences(
    ct: AsyncClient,
) -> None:
    made = await ct.single_use.create_many(campaign=CAMPAIGN)
    assert made.campaign == CAMPAIGN
    assert made.action == "multiple_single_use_codes_created"
    data = made.data or []
    assert len(data) == 10
    sequences = [d.sequence_id for d in data]
    assert sequences == list(range(data[0].sequence_id or 0, (data[0].sequence_id or 0) + 10))
    assert len({d.single_use_code for d in data}) == 10


async def test_create_many_status_voided_then_activate_by_batch(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    made = await ct.single_use.create_many(campaign=CAMPAIGN, amount=4, status="voided")
    data = made.data or []
    sessions = [sandbox.state.coupons.sessions[d.single_use_code] for d in data]
    assert all(s.voided for s in sessions)
    await ct.sessions.update_batch(
        campaign=CAMPAIGN,
        startsequence=data[0].sequence_id,
        endsequence=data[-1].sequence_id,
        operation="activate",
    )
    assert not any(s.voided for s in sessions)
    activated = await ct.single_use.create_many(campaign=CAMPAIGN, amount=1, status="activated")
    assert sandbox.state.coupons.sessions[(activated.data or [])[0].single_use_code].start_at


@pytest.mark.parametrize(("kind", "alphabet"), [("numeric", "0123456789"), ("alphanumeric", None)])
async def test_create_many_with_automated_codes(
    sandbox: Sandbox, ct: AsyncClient, kind: Any, alphabet: str | None
) -> None:
    made = await ct.single_use.create_many(
        campaign=CAMPAIGN,
        amount=50,
        automated_codes=True,
        code_prefix="SUM-",
        code_length=12,
        code_type=kind,
    )
    sessions = sandbox.state.coupons.sessions
    codes = [sessions[d.single_use_code].validation_code or "" for d in made.data or []]
    assert len(set(codes)) == 50
    for code in codes:
        assert code.startswith("SUM-")
        assert len(code) == 16
        assert code[4:].isalnum()
        assert alphabet is None or set(code[4:]) <= set(alphabet)
    info = await ct.coupons.get(campaign=CAMPAIGN, show_usage_stats=True)
    assert info.coupon_info is not None
    assert info.coupon_info.total_custom_codes == 50


def test_create_many_is_601_when_the_code_space_is_too_small(sandbox: Sandbox) -> None:
    # The client refuses code_length < 10 (the parameter text) before sending; the server
    # side accepts 3-30 (its 301 text), so a short length is exercised on the handler.
    body = {
        "campaign": CAMPAIGN,
        "automated_codes": True,
        "code_length": 3,
        "code_type": "numeric",
        "code_prefix": "P",
    }
    made = direct(sandbox, "single_use_create_many", {**body, "amount": 990})
    assert len(made["data"]) == 990
    with pytest.raises(V3Failure) as caught:
        direct(sandbox, "single_use_create_many", {**body, "amount": 11})
    assert (caught.value.code, caught.value.message) == (
        601,
        "low on unique generated validation codes",
    )
    last = direct(sandbox, "single_use_create_many", {**body, "amount": 10})
    codes = {
        sandbox.state.coupons.sessions[d["single_use_code"]].validation_code for d in last["data"]
    }
    assert len(sandbox.state.coupons.campaigns[CAMPAIGN].valcodes) == 1000
    assert len(codes) == 10


# ------------------------------------------------------------ distribution


async def test_send_email_creates_a_session_and_records_the_send(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    sent = await ct.distribution.send_coupon_email(
        campaign=CAMPAIGN, email="ann@example.com", subject="For you", firstname="Ann"
    )
    assert sent.campaign == CAMPAIGN
    assert sent.couponsession is not None
    [record] = sandbox.state.coupons.sends
    assert (record.channel, record.to, record.couponsession) == (
        "email",
        "ann@example.com",
        sent.couponsession,
    )
    assert record.subject == "For you"
    found = await ct.sessions.search(email="ann@example.com")
    assert [s.session for s in found.data or []] == [sent.couponsession]


async def test_send_email_of_a_given_session_and_check_unique(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    session = arrange(sandbox, "new")
    sent = await ct.distribution.send_coupon_email(
        campaign=CAMPAIGN, email="ann@example.com", couponsession=session.code
    )
    assert sent.couponsession == session.code
    assert len(sandbox.state.coupons.sessions) == 1
    again = await ct.distribution.send_coupon_email(
        campaign=CAMPAIGN, email="ann@example.com", check_unique=True
    )
    assert again.couponsession == session.code
    assert len(sandbox.state.coupons.sends) == 1
    await ct.distribution.send_coupon_email(campaign=CAMPAIGN, email="ann@example.com")
    assert len(sandbox.state.coupons.sends) == 2


async def test_send_sms_creates_a_session_or_uses_the_given_one(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    sent = await ct.distribution.send_coupon_sms(
        campaign=CAMPAIGN, phone="+32470000001", body="Your coupon"
    )
    new = sandbox.state.coupons.sessions[str(sent.single_use_code)]
    assert (sent.single_use_url, sent.phone, sent.action) == (new.url, "32470000001", "sms_sent")
    assert sent.message == f"Your coupon {new.url}"
    session = arrange(sandbox, "new")
    given = await ct.distribution.send_coupon_sms(
        campaign=CAMPAIGN, phone="+32470000002", couponsession=session.code
    )
    assert given.single_use_code == session.code
    assert [(s.channel, s.to, s.body) for s in sandbox.state.coupons.sends] == [
        ("sms", "+32470000001", "Your coupon"),
        ("sms", "+32470000002", None),
    ]
    with pytest.raises(errors.NotFoundError) as caught:
        await ct.distribution.send_coupon_sms(
            campaign=CAMPAIGN, phone="+32470000002", couponsession="nosuchsession"
        )
    assert caught.value.codes == (513,)
    assert caught.value.messages == ("Statcode not found",)


async def test_sends_without_an_integration_fail_with_103_and_104(
    sandbox: Sandbox, ct: AsyncClient
) -> None:
    sandbox.state.coupons.email_connected = False
    sandbox.state.coupons.sms_connected = False
    with pytest.raises(errors.IntegrationError) as email:
        await ct.distribution.send_coupon_email(campaign=CAMPAIGN, email="ann@example.com")
    assert email.value.codes == (104,)
    with pytest.raises(errors.IntegrationError) as sms:
        await ct.distribution.send_coupon_sms(campaign=CAMPAIGN, phone="+32470000001")
    assert sms.value.codes == (103,)
    assert sandbox.state.coupons.sends == []
    assert sandbox.state.coupons.sessions == {}


async def test_sends_of_a_loyalty_card(sandbox: Sandbox, ct: AsyncClient) -> None:
    card = sandbox.state.loyalty.add_card(name="Coffee card", amount_of_stamps=10)
    sent = await ct.distribution.send_loyalty_email(loyaltycard=card.id, email="ann@example.com")
    assert sent.loyaltycard == card.id
    await ct.distribution.send_loyalty_sms(loyaltycard=card.id, phone="+32470000001")
    assert [(s.channel, s.loyaltycard) for s in sandbox.state.coupons.sends] == [
        ("email", card.id),
        ("sms", card.id),
    ]
    with pytest.raises(errors.NotFoundError):
        await ct.distribution.send_loyalty_email(loyaltycard="loy_404", email="ann@example.com")


async def test_send_to_an_unknown_campaign_is_502(ct: AsyncClient) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        await ct.distribution.send_coupon_email(campaign="cam_404", email="ann@example.com")
    assert caught.value.codes == (502,)


# -------------------------------------------------------------- coupons, push


async def test_coupon_list_filters(sandbox: Sandbox, ct: AsyncClient) -> None:
    async def ids(**filters: Any) -> list[str]:
        listed = await ct.coupons.list(**filters)
        return [c.id for c in listed.coupon_info or []]

    assert await ids() == [CAMPAIGN, OTHER]
    assert await ids(only_active=True) == [CAMPAIGN]
    assert await ids(folder="fol_1") == [CAMPAIGN]
    assert await ids(tags="winter") == [OTHER]
    assert await ids(tags="sale,winter") == [CAMPAIGN, OTHER]
    assert await ids(category="cat_1") == [CAMPAIGN]
    with pytest.raises(errors.NotFoundError) as caught:
        await ct.coupons.list(folder="fol_404")
    assert caught.value.codes == (515,)
    assert caught.value.messages == ("Folder not found",)


async def test_coupon_info_and_usage_stats(sandbox: Sandbox, ct: AsyncClient) -> None:
    arrange(sandbox, "claimed", validation_code="CODE00001")
    arrange(sandbox, "new", validation_code="CODE00002")
    arrange(sandbox, "claimed")
    plain = await ct.coupons.get(campaign=CAMPAIGN)
    assert plain.coupon_info is not None
    assert (plain.coupon_info.code, plain.coupon_info.name) == ("sum24", "Summer sale")
    assert plain.coupon_info.total_custom_codes is None
    stats = await ct.coupons.get(campaign=CAMPAIGN, show_usage_stats=True)
    assert stats.coupon_info is not None
    assert (stats.coupon_info.total_custom_codes, stats.coupon_info.claimed_custom_codes) == (2, 1)
    with pytest.raises(errors.NotFoundError) as caught:
        await ct.coupons.get(campaign="cam_404")
    assert caught.value.codes == (502,)


async def test_push_all_reaches_the_wallet_passes(sandbox: Sandbox, ct: AsyncClient) -> None:
    with pytest.raises(errors.DeliveryError) as nobody:
        await ct.coupons.push_all(campaign=CAMPAIGN, message="Hi")
    assert nobody.value.codes == (507,)
    assert nobody.value.messages == ("0 users have saved the campaign",)
    saved = arrange(sandbox, "claimed", saved_to_passbook=True)
    arrange(sandbox, "claimed")
    await ct.coupons.push_all(campaign=CAMPAIGN, message="Hi")
    [push] = sandbox.state.coupons.pushes
    assert (push.campaign, push.message, push.recipients) == (CAMPAIGN, "Hi", (saved.code,))
    with pytest.raises(errors.NotFoundError) as unknown:
        await ct.coupons.push_all(campaign="cam_404", message="Hi")
    assert unknown.value.codes == (505,)


async def test_push_one_needs_a_session_of_the_campaign(sandbox: Sandbox, ct: AsyncClient) -> None:
    saved = arrange(sandbox, "claimed", saved_to_passbook=True)
    answer = await ct.coupons.push_one(campaign=CAMPAIGN, couponsession=saved.code, message="Hi")
    assert answer.couponsession == saved.code
    assert sandbox.state.coupons.pushes[0].recipients == (saved.code,)
    with pytest.raises(errors.NotFoundError) as elsewhere:
        await ct.coupons.push_one(campaign=OTHER, couponsession=saved.code, message="Hi")
    assert elsewhere.value.codes == (505,)
    with pytest.raises(errors.NotFoundError) as unknown:
        await ct.coupons.push_one(campaign=CAMPAIGN, couponsession="nosuchsession", message="Hi")
    assert unknown.value.messages == ("Couponsession not found",)
    not_saved = arrange(sandbox, "claimed")
    with pytest.raises(errors.DeliveryError):
        await ct.coupons.push_one(campaign=CAMPAIGN, couponsession=not_saved.code, message="Hi")


# ------------------------------------------------------------------- seed


def fingerprint(sandbox: Sandbox) -> list[tuple[Any, ...]]:
    return [
        (
            s.code,
            s.sequence,
            s.campaign,
            s.email,
            s.phone,
            s.validation_code,
            s.created_at,
            s.claimed_at,
            s.validated_at,
            s.voided_at,
            s.locked,
            s.saved_to_passbook,
            s.widget_validation_code,
        )
        for s in sandbox.state.coupons.sessions.values()
    ]


def test_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    first = Sandbox.seeded(seed=7, sessions=300)
    assert fingerprint(first) == fingerprint(Sandbox.seeded(seed=7, sessions=300))
    assert fingerprint(first) != fingerprint(Sandbox.seeded(seed=8, sessions=300))
    assert len(first.state.coupons.sessions) == 300


def test_seeded_sessions_cover_every_state() -> None:
    sandbox = Sandbox.seeded(seed=1, sessions=1000)
    coupons = sandbox.state.coupons
    sessions = list(coupons.sessions.values())
    now = datetime.now(UTC)
    assert len(coupons.campaigns) >= 5
    assert any(c.status == "inactive" for c in coupons.campaigns.values())
    checks: dict[str, Callable[[Session], bool]] = {
        "unopened": lambda s: s.opened_at is None,
        "opened only": lambda s: s.opened_at is not None and not s.claimed,
        "claimed": lambda s: s.claimed and not s.validated,
        "validated": lambda s: s.validated,
        "voided": lambda s: s.voided,
        "locked": lambda s: s.locked,
        "expired": lambda s: s.expired(now),
        "not started": lambda s: s.start_at is not None and s.start_at > now,
        "in a wallet": lambda s: s.saved_to_passbook,
        "with a code": lambda s: s.validation_code is not None,
        "with an email": lambda s: s.email is not None,
        "with a phone": lambda s: s.phone is not None,
        "with a customid": lambda s: bool(s.customid),
    }
    for name, check in checks.items():
        assert any(check(s) for s in sessions), name
    sequences = [s.sequence for s in sessions]
    assert sequences == sorted(sequences)
    assert any(len(found) > 1 for found in coupons.by_email.values())


async def test_seeded_sessions_answer_through_the_client() -> None:
    sandbox = Sandbox.seeded(seed=2, sessions=200)
    email = next(iter(sandbox.state.coupons.by_email))
    async with sandbox.client() as ct:
        listed = await ct.coupons.list(only_active=True)
        assert CAMPAIGN in [c.id for c in listed.coupon_info or []]
        found = await ct.sessions.search(email=email)
        assert len(found.data or []) == len(sandbox.state.coupons.by_email[email])
