"""The sandbox's web loyalty cards and users, SMS tool and email tool, as a client sees them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from functools import partial
from typing import Any

import pytest

from coupontools_async import (
    AsyncClient,
    DeliveryError,
    IntegrationError,
    InvalidRequestError,
    NotFoundError,
    models,
)
from coupontools_async._convert import structure
from coupontools_async._generated import OPERATIONS
from coupontools_async.sandbox import Sandbox, SandboxState
from coupontools_async.sandbox._core import HANDLERS, Call, V3Failure
from coupontools_async.sandbox._loyalty import OWNER_SUBACCOUNT, WebLoyaltyCard, seed

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=0)


@pytest.fixture
def card(sandbox: Sandbox) -> WebLoyaltyCard:
    """Web loyalty cards have no create endpoint: one is put into the state directly."""
    return sandbox.state.loyalty.add_card(name="Coffee card", amount_of_stamps=3)


@pytest.fixture
async def ct(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with sandbox.client(max_retries=0) as client:
        yield client


async def _user(ct: AsyncClient, card: WebLoyaltyCard, email: str, **fields: Any) -> str:
    created = await ct.loyalty_users.create(email=email, password="s3cret", **fields)
    assert created.user_id is not None
    await ct.loyalty_users.link(loyaltycard=card.id, user=created.user_id)
    return created.user_id


def _call(state: SandboxState, op_id: str, body: dict[str, Any]) -> Any:
    """Run one handler directly, below the HTTP layer."""
    call = Call(
        op=OPERATIONS[op_id],
        path={},
        body=body,
        state=state,
        emit=lambda t, p: {**p, "id": "evt_x", "type": t},
        now=lambda: NOW,
    )
    return HANDLERS[op_id](call)


# ------------------------------------------------------------------------- loyalty cards


async def test_cards_list_and_get(ct: AsyncClient, sandbox: Sandbox, card: WebLoyaltyCard) -> None:
    closed = sandbox.state.loyalty.add_card(name="Old card", amount_of_stamps=6, status="inactive")

    every = await ct.loyalty_cards.list()
    assert [c.id for c in every.loyaltycard or []] == [card.id, closed.id]
    active = await ct.loyalty_cards.list(only_active=True)
    assert [c.id for c in active.loyaltycard or []] == [card.id]

    got = await ct.loyalty_cards.get(loyaltycard=card.id)
    (one,) = got.loyaltycard or []
    assert one.id == card.id
    assert one.name == "Coffee card"
    assert one.amount_of_stamps == 3
    assert one.type == "stampcard"
    assert one.status == "active"
    assert one.url == f"https://loyaltycard.mobi/ac/{card.code}"


async def test_unknown_card_answers_each_operations_code(ct: AsyncClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await ct.loyalty_cards.get(loyaltycard="loy_999")
    assert info.value.codes == (507,)
    with pytest.raises(NotFoundError) as info:
        await ct.loyalty_users.list(loyaltycard="loy_999")
    assert info.value.codes == (505,)
    with pytest.raises(NotFoundError) as info:
        await ct.loyalty_cards.push_all(loyaltycard="loy_999", message="Hi")
    assert info.value.codes == (505,)


async def test_push_all_needs_users(
    ct: AsyncClient, sandbox: Sandbox, card: WebLoyaltyCard
) -> None:
    with pytest.raises(DeliveryError) as info:
        await ct.loyalty_cards.push_all(loyaltycard=card.id, message="Double stamps today")
    assert info.value.codes == (507,)

    user = await _user(ct, card, "ann@example.com")
    sent = await ct.loyalty_cards.push_all(loyaltycard=card.id, message="Double stamps today")
    assert sent.result
    (push,) = sandbox.state.loyalty.pushes
    assert push["recipients"] == [user]
    assert push["message"] == "Double stamps today"


# ------------------------------------------------------------------------- loyalty users


async def test_create_link_list(ct: AsyncClient, card: WebLoyaltyCard) -> None:
    created = await ct.loyalty_users.create(
        email="john@doe.com",
        password="s3cret",
        phone="+32470123456",
        first_name="John",
        last_name="Doe",
        gender="male",
        birthday="1990-05-01",
        city="Ghent",
    )
    assert created.result == "saved_successfully"
    assert created.user_id is not None
    assert created.user_id.startswith("lus_")

    linked = await ct.loyalty_users.link(loyaltycard=card.id, user=created.user_id)
    assert (linked.result, linked.loyaltycard, linked.user) == (
        "linked_successfully",
        card.id,
        created.user_id,
    )
    again = await ct.loyalty_users.link(loyaltycard=card.id, user=created.user_id)
    assert again.result == "already_linked"

    listed = await ct.loyalty_users.list(loyaltycard=card.id)
    assert [c.id for c in listed.loyaltycard or []] == [card.id]
    assert listed.amount_of_users == 1
    (user,) = listed.users or []
    assert user.id == created.user_id
    assert (user.first_name, user.last_name, user.email) == ("John", "Doe", "john@doe.com")
    assert user.phone == "+32470123456"
    assert user.gender == "male"
    assert user.stamps == 0
    assert user.subscribed_for_marketing is False
    assert user.age_range  # derived from the birthday


async def test_create_rejects_a_taken_email(ct: AsyncClient) -> None:
    await ct.loyalty_users.create(email="ann@example.com", password="x")
    with pytest.raises(InvalidRequestError) as info:
        await ct.loyalty_users.create(email="ANN@example.com", password="y")
    assert info.value.codes == (304,)
    assert info.value.messages == ("Email already exists",)


async def test_link_unknown_user(ct: AsyncClient, card: WebLoyaltyCard) -> None:
    with pytest.raises(NotFoundError) as info:
        await ct.loyalty_users.link(loyaltycard=card.id, user="lus_1")
    assert info.value.codes == (505,)


async def test_search_by_name_email_phone_and_id(ct: AsyncClient, card: WebLoyaltyCard) -> None:
    john = await _user(ct, card, "john@doe.com", first_name="John", phone="+32470123456")
    jane = await _user(ct, card, "jane@roe.org", first_name="Jane", last_name="Roe")
    # Not linked to this card: never found through it.
    await ct.loyalty_users.create(email="johnny@doe.com", password="x", first_name="Johnny")

    async def found(needle: str) -> list[str]:
        answer = await ct.loyalty_users.search(loyaltycard=card.id, search=needle)
        assert answer.amount_of_users == len(answer.users or [])
        return [u.id for u in answer.users or []]

    assert await found("joh") == [john]
    assert await found("ROE") == [jane]
    assert await found("doe.com") == [john]
    assert await found("470123") == [john]
    assert await found(jane) == [jane]
    assert await found("lus_") == [john, jane]
    assert await found("nobody") == []


async def test_update_points_and_completion_webhook(
    ct: AsyncClient, sandbox: Sandbox, card: WebLoyaltyCard
) -> None:
    user = await _user(ct, card, "ann@example.com")

    first = await ct.loyalty_users.update(loyaltycard=card.id, user=user, amount=2)
    assert (first.result, first.loyaltycard, first.user, first.stamps) == (
        "updated_successfully",
        card.id,
        user,
        2,
    )
    assert sandbox.state.events == []

    full = await ct.loyalty_users.update(loyaltycard=card.id, user=user, amount=1)
    assert full.stamps == 3
    (event,) = sandbox.state.events
    complete = structure(event, models.LoyaltyCompleteEvent)
    assert complete.type == "loyalty_complete"
    assert complete.loyaltycard == card.id
    assert complete.subaccount == OWNER_SUBACCOUNT
    assert complete.statcode == card.members[user].statcode

    # Still full: no second event until it drops below and fills again.
    assert (await ct.loyalty_users.update(loyaltycard=card.id, user=user, amount=1)).stamps == 4
    assert len(sandbox.state.events) == 1
    assert (await ct.loyalty_users.update(loyaltycard=card.id, user=user, amount=-10)).stamps == 0
    assert (await ct.loyalty_users.update(loyaltycard=card.id, user=user, amount=5)).stamps == 5
    assert len(sandbox.state.events) == 2
    assert card.members[user].completions == 2


async def test_update_needs_a_linked_user(
    ct: AsyncClient, sandbox: Sandbox, card: WebLoyaltyCard
) -> None:
    created = await ct.loyalty_users.create(email="ann@example.com", password="x")
    assert created.user_id is not None
    with pytest.raises(NotFoundError) as info:
        await ct.loyalty_users.update(loyaltycard=card.id, user=created.user_id, amount=1)
    assert info.value.codes == (505,)
    with pytest.raises(NotFoundError):
        await ct.loyalty_users.update(loyaltycard=card.id, user="lus_1", amount=1)


def test_create_requires_email_and_password_below_the_core() -> None:
    state = SandboxState()
    with pytest.raises(V3Failure) as info:
        _call(state, "loyalty_users_create", {"email": "", "password": "x"})
    assert (info.value.code, info.value.message) == (200, "You need to provide an email address.")
    with pytest.raises(V3Failure) as info:
        _call(state, "loyalty_users_create", {"email": "a@b.co", "password": ""})
    assert (info.value.code, info.value.message) == (200, "You need to provide a password.")


# ------------------------------------------------------------------------------- SMS tool


async def test_sms_groups_and_contacts(ct: AsyncClient) -> None:
    created = await ct.sms.create_group(group_name="Subscribers keyword pizza")
    assert created.result == "saved_successfully"
    group_id = f"gro_{created.groupid}"

    groups = await ct.sms.list_groups()
    assert groups.amount_of_groups == 1
    assert [(g.id, g.name) for g in groups.group or []] == [(group_id, "Subscribers keyword pizza")]

    added = await ct.sms.add_contact(
        smsgroup=group_id,
        phone="+441234567890",
        first_name="Bill",
        last_name="Jackson",
        birthday="1980-01-01",
        customfield1="vip",
    )
    assert added.group_id == group_id
    assert added.phone == "441234567890"  # saved without '+', as api-docs 003 shows
    assert (added.first_name, added.last_name, added.result) == (
        "Bill",
        "Jackson",
        "saved_successfully",
    )
    assert added.contact_id.startswith("con_")

    # The same number again updates that contact.
    again = await ct.sms.add_contact(smsgroup=group_id, phone="+441234567890", first_name="Billy")
    assert again.contact_id == added.contact_id
    assert (again.first_name, again.last_name) == ("Billy", "Jackson")

    listed = await ct.sms.list_contacts(smsgroup=group_id)
    assert (listed.group_id, listed.group_name, listed.amount_of_contacts) == (
        group_id,
        "Subscribers keyword pizza",
        1,
    )
    (contact,) = listed.contact or []
    assert (contact.id, contact.phone, contact.unsubscribed) == (
        added.contact_id,
        "441234567890",
        False,
    )
    assert contact.unsubscribedate is None


async def test_sms_unsubscribed_contact_shows_its_date(ct: AsyncClient, sandbox: Sandbox) -> None:
    group = sandbox.state.messaging.add_group("Opt-outs", sms=True)
    added = await ct.sms.add_contact(smsgroup=group.id, phone="+32470123456")
    contact = group.contacts[added.contact_id]
    contact.unsubscribed = True
    contact.unsubscribed_at = datetime(2018, 7, 13, 19, 47, tzinfo=timezone.utc)

    # Adding it again keeps the opt-out.
    await ct.sms.add_contact(smsgroup=group.id, phone="+32470123456", first_name="Ann")
    (seen,) = (await ct.sms.list_contacts(smsgroup=group.id)).contact or []
    assert seen.unsubscribed is True
    assert seen.unsubscribedate == contact.unsubscribed_at


async def test_sms_unknown_group_and_no_integration(ct: AsyncClient, sandbox: Sandbox) -> None:
    with pytest.raises(NotFoundError) as info:
        await ct.sms.list_contacts(smsgroup="gro_1")
    assert info.value.codes == (514,)
    with pytest.raises(NotFoundError) as info:
        await ct.sms.add_contact(smsgroup="gro_1", phone="+32470123456")
    assert info.value.codes == (514,)

    sandbox.state.messaging.sms_connected = False
    for attempt in (
        ct.sms.list_groups,
        partial(ct.sms.create_group, group_name="x"),
        partial(ct.sms.list_contacts, smsgroup="gro_1"),
        partial(ct.sms.add_contact, smsgroup="gro_1", phone="+32470123456"),
    ):
        with pytest.raises(IntegrationError) as off:
            await attempt()
        assert off.value.codes == (103,)
    # The email tool is connected on its own.
    assert (await ct.email.list_groups()).amount_of_groups == 0


# ----------------------------------------------------------------------------- email tool


async def test_email_groups_and_contacts(ct: AsyncClient) -> None:
    created = await ct.email.create_group(group_name="Newsletter")
    assert created.result == "saved_successfully"
    assert created.group_id.startswith("gro_")

    groups = await ct.email.list_groups()
    assert [(g.id, g.name) for g in groups.group or []] == [(created.group_id, "Newsletter")]

    added = await ct.email.add_contact(
        emailgroup=created.group_id,
        email="test@test.com",
        first_name="Bill",
        last_name="Jackson",
        custom10="x",
    )
    assert (added.group_id, added.email, added.result) == (
        created.group_id,
        "test@test.com",
        "saved_successfully",
    )
    again = await ct.email.add_contact(emailgroup=created.group_id, email="TEST@test.com")
    assert again.contact_id == added.contact_id

    listed = await ct.email.list_contacts(emailgroup=created.group_id)
    assert listed.amount_of_contacts == 1
    (contact,) = listed.contact or []
    assert (contact.id, contact.email, contact.first_name, contact.unsubscribed) == (
        added.contact_id,
        "TEST@test.com",
        "Bill",
        False,
    )


async def test_email_unknown_group_and_no_integration(ct: AsyncClient, sandbox: Sandbox) -> None:
    sms_group = await ct.sms.create_group(group_name="SMS only")
    with pytest.raises(NotFoundError) as info:  # an SMS group is no email group
        await ct.email.list_contacts(emailgroup=f"gro_{sms_group.groupid}")
    assert info.value.codes == (514,)

    sandbox.state.messaging.email_connected = False
    for attempt in (
        ct.email.list_groups,
        partial(ct.email.create_group, group_name="x"),
        partial(ct.email.list_contacts, emailgroup="gro_1"),
        partial(ct.email.add_contact, emailgroup="gro_1", email="a@example.com"),
    ):
        with pytest.raises(IntegrationError) as off:
            await attempt()
        assert off.value.codes == (103,)
        assert "Email" in off.value.messages[0]


def test_bad_birthday_has_the_documented_text() -> None:
    state = SandboxState()
    group = state.messaging.add_group("g", sms=False)
    with pytest.raises(V3Failure) as info:
        _call(
            state,
            "email_add_contact",
            {"emailgroup": group.id, "email": "a@example.com", "birthday": "2020-02-30"},
        )
    assert (info.value.code, info.value.message) == (
        303,
        "incorrect format in birthday field, must be yyyy-MM-dd",
    )


# ------------------------------------------------------------------------------------ seed


async def test_seeded_data_is_usable_and_deterministic() -> None:
    async def snapshot(sandbox: Sandbox) -> tuple[Any, ...]:
        async with sandbox.client(max_retries=0) as ct:
            cards = (await ct.loyalty_cards.list()).loyaltycard or []
            users = [await ct.loyalty_users.list(loyaltycard=c.id) for c in cards]
            sms = (await ct.sms.list_groups()).group or []
            email = (await ct.email.list_groups()).group or []
            sms_contacts = [await ct.sms.list_contacts(smsgroup=g.id) for g in sms]
            email_contacts = [await ct.email.list_contacts(emailgroup=g.id) for g in email]
        return cards, users, sms, email, sms_contacts, email_contacts

    first = await snapshot(Sandbox.seeded(seed=7, sessions=50))
    assert first == await snapshot(Sandbox.seeded(seed=7, sessions=50))
    assert first != await snapshot(Sandbox.seeded(seed=8, sessions=50))

    cards, users, sms, email, sms_contacts, email_contacts = first
    assert all(c.id.startswith("loy_") for c in cards)
    assert len(cards) >= 3
    assert sum(u.amount_of_users for u in users) > 0
    for listing, card in zip(users, cards, strict=True):
        for user in listing.users or []:
            assert user.id.startswith("lus_")
            assert 0 <= user.stamps < card.amount_of_stamps
    assert len(sms) == 2
    assert len(email) == 2
    assert all(g.id.startswith("gro_") for g in [*sms, *email])
    assert all(c.amount_of_contacts for c in [*sms_contacts, *email_contacts])
    assert all(
        c.phone and not c.phone.startswith("+") for g in sms_contacts for c in g.contact or []
    )
    assert all("@" in (c.email or "") for g in email_contacts for c in g.contact or [])


def test_seed_alone_fills_both_states() -> None:
    state = SandboxState()
    seed(state, random.Random(1), sessions=0)
    assert len(state.loyalty.cards) == 4
    assert len(state.loyalty.users) == 40
    assert len(state.messaging.sms_groups) == 2
    assert len(state.messaging.email_groups) == 2
