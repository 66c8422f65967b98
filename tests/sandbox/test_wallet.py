"""The sandbox's wallet loyalty cards and users, and webhook verification, as a client sees them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from coupontools_async import AsyncClient, InvalidRequestError, NotFoundError
from coupontools_async._generated import OPERATIONS
from coupontools_async.sandbox import Sandbox, SandboxConfig, SandboxState
from coupontools_async.sandbox._core import HANDLERS, Call
from coupontools_async.sandbox._wallet import SEED_EPOCH, Card, CardUser, seed

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def sandbox() -> Sandbox:
    """An empty sandbox with 3 stamps a reward, so thresholds are quick to reach."""
    return Sandbox(seed=0, config=SandboxConfig(stamps_per_reward=3, reward_validity_days=30))


@pytest.fixture
def card(sandbox: Sandbox) -> Card:
    """The only API without a create endpoint: a card is put into the state directly."""
    return sandbox.state.wallet.new_card(
        name="Coffee club", type="stamp", reward_name="Free coffee"
    )


@pytest.fixture
async def ct(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with sandbox.client(max_retries=0) as client:
        yield client


def _call(state: SandboxState, op_id: str, path: dict[str, int], body: Any = None) -> Any:
    """Run one handler directly, for what is easier to see below the HTTP layer."""

    def emit(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        event = {"id": f"evt_{len(state.events) + 1}", "datetime": "", "type": event_type}
        state.events.append({**event, **payload})
        return state.events[-1]

    call = Call(
        op=OPERATIONS[op_id],
        path={k: str(v) for k, v in path.items()},
        body=body,
        state=state,
        emit=emit,
        now=lambda: NOW,
    )
    return HANDLERS[op_id](call)


# ------------------------------------------------------------------------------ cards


async def test_seeded_sandbox_lists_its_three_cards() -> None:
    async with Sandbox.seeded(seed=1, sessions=10).client() as ct:
        cards = await ct.wallet_cards.list()
    assert [c.name for c in cards] == ["Coffee club", "Membership card", "VIP"]
    assert all(c.code and c.domain and c.type for c in cards)


async def test_copy_makes_a_new_empty_card_with_the_new_name(
    ct: AsyncClient, card: Card, sandbox: Sandbox
) -> None:
    await ct.wallet_users.create(card.id, first_name="Ann")

    named = await ct.wallet_cards.copy(card.id, name="Tea club")
    default = await ct.wallet_cards.copy(card.id)

    assert named.name == "Tea club"
    assert default.name == "Coffee club (copy)"
    assert named.type == default.type == "stamp"
    assert len({card.id, named.id, default.id}) == 3
    assert await ct.wallet_users.list(named.id) == []
    assert sandbox.state.wallet.cards[named.id].reward_name == "Free coffee"
    assert [c.id for c in await ct.wallet_cards.list()] == [card.id, named.id, default.id]


async def test_unknown_card_is_not_found(ct: AsyncClient) -> None:
    with pytest.raises(NotFoundError, match="Loyalty card not found") as caught:
        await ct.wallet_users.list(99)
    assert caught.value.status_code == 404
    with pytest.raises(NotFoundError):
        await ct.wallet_cards.copy(99, name="x")
    with pytest.raises(NotFoundError):
        await ct.wallet_cards.push(99, message="hi")


# ---------------------------------------------------------------------- single users


async def test_created_user_can_be_read_back_and_updated(ct: AsyncClient, card: Card) -> None:
    created = await ct.wallet_users.create(
        card.id, first_name="Ann", last_name="Lee", email="ann@example.com", custom_3="oat milk"
    )
    assert created.stamps == 0
    assert created.rewards == []
    assert created.voided_at is None
    assert created.code is not None
    assert len(created.code) == 21
    assert created.code.isalnum()
    assert created.code.islower()
    assert created.download_url is not None
    assert created.download_url.endswith(created.code)
    assert created.created_at is not None
    assert created.created_at.tzinfo is not None

    updated = await ct.wallet_users.update(card.id, created.id, city="Ghent", last_name="Li")

    assert (updated.first_name, updated.last_name, updated.city) == ("Ann", "Li", "Ghent")
    assert updated.email == "ann@example.com"
    assert updated.custom_3 == "oat milk"
    assert await ct.wallet_users.get(card.id, created.id) == updated


async def test_user_ids_count_across_cards_and_stay_on_their_card(
    ct: AsyncClient, card: Card, sandbox: Sandbox
) -> None:
    other = sandbox.state.wallet.new_card(name="VIP", type="membership", reward_name="Lounge")
    first = await ct.wallet_users.create(card.id, first_name="Ann")
    second = await ct.wallet_users.create(other.id, first_name="Bob")

    assert second.id == first.id + 1
    assert sandbox.state.wallet.users.keys() == {first.id, second.id}
    with pytest.raises(NotFoundError, match="User not found"):
        await ct.wallet_users.get(card.id, second.id)
    with pytest.raises(NotFoundError, match="User not found"):
        await ct.wallet_users.update(other.id, first.id, first_name="Eve")


async def test_creating_a_user_emits_loyalty_v3_created(
    ct: AsyncClient, card: Card, sandbox: Sandbox
) -> None:
    user = await ct.wallet_users.create(card.id, email="ann@example.com")

    [event] = sandbox.state.events
    assert event["type"] == "loyalty_v3_created"
    assert event["id"].startswith("evt_")
    assert event["loyalty_id"] == card.id
    assert event["user"]["id"] == user.id
    assert event["user"]["email"] == "ann@example.com"


async def test_two_users_may_share_an_email(ct: AsyncClient, card: Card, sandbox: Sandbox) -> None:
    first = await ct.wallet_users.create(card.id, email="Ann@Example.com")
    second = await ct.wallet_users.create(card.id, email="ann@example.com")

    assert [u.id for u in sandbox.state.wallet.users_with_email(card.id, "ANN@example.com")] == [
        first.id,
        second.id,
    ]
    found = await ct.wallet_users.list(card.id, keyword="ann@example.com", strict=True)
    assert [u.id for u in found] == [first.id, second.id]


# ------------------------------------------------------------------------- listing


async def test_list_filters_by_keyword_partly_or_strictly(ct: AsyncClient, card: Card) -> None:
    ann = await ct.wallet_users.create(card.id, first_name="Ann", email="ann.doe@example.com")
    jo = await ct.wallet_users.create(card.id, first_name="Jo", last_name="Doe")
    bo = await ct.wallet_users.create(card.id, first_name="Bo", phone="+3247000001")

    async def ids(**kwargs: Any) -> list[int]:
        return [u.id for u in await ct.wallet_users.list(card.id, **kwargs)]

    assert await ids() == [ann.id, jo.id, bo.id]
    assert await ids(keyword="DOE") == [ann.id, jo.id]
    assert await ids(keyword="doe", strict=True) == [jo.id]
    assert await ids(keyword="47000", strict=False) == [bo.id]
    assert await ids(keyword="47000", strict=True) == []
    assert await ids(keyword=bo.code or "", strict=True) == [bo.id]
    assert await ids(keyword="nobody") == []


async def test_voided_users_are_listed_only_on_request(ct: AsyncClient, card: Card) -> None:
    ann = await ct.wallet_users.create(card.id, first_name="Ann")
    bob = await ct.wallet_users.create(card.id, first_name="Bob")
    await ct.wallet_users.void(card.id, ann.id)

    assert [u.id for u in await ct.wallet_users.list(card.id)] == [bob.id]
    listed = await ct.wallet_users.list(card.id, include_voided=True)
    assert [u.id for u in listed] == [ann.id, bob.id]
    assert listed[0].voided_at is not None


async def test_iter_yields_every_user_exactly_once(ct: AsyncClient, card: Card) -> None:
    created = await ct.wallet_users.create_many(
        card.id, [{"first_name": f"User {n}"} for n in range(50)]
    )
    await ct.wallet_users.void(card.id, created[10].id)

    active = [u.id async for u in ct.wallet_users.iter(card.id, per_page=7)]
    everyone = [u.id async for u in ct.wallet_users.iter(card.id, per_page=7, include_voided=True)]

    assert everyone == [u.id for u in created]
    assert active == [u.id for u in created if u.id != created[10].id]


async def test_pages_count_from_one_and_end_empty(ct: AsyncClient, card: Card) -> None:
    created = await ct.wallet_users.create_many(card.id, [{"first_name": "A"}] * 5)

    first = await ct.wallet_users.list(card.id, page=1, per_page=2)
    last = await ct.wallet_users.list(card.id, page=3, per_page=2)

    assert [u.id for u in first] == [u.id for u in created[:2]]
    assert [u.id for u in last] == [created[4].id]
    assert await ct.wallet_users.list(card.id, page=4, per_page=2) == []


async def test_list_page_size_defaults_to_the_configured_one() -> None:
    sandbox = Sandbox(config=SandboxConfig(wallet_page_size=4))
    card = sandbox.state.wallet.new_card(name="C", type="stamp", reward_name="R")
    for _ in range(6):
        sandbox.state.wallet.new_user(card, {}, NOW)
    async with sandbox.client() as ct:
        assert len(await ct.wallet_users.list(card.id)) == 4
        assert len(await ct.wallet_users.list(card.id, page=2)) == 2


# ------------------------------------------------------------------------ bulk create


async def test_bulk_create_returns_the_users_in_order_each_with_an_event(
    ct: AsyncClient, card: Card, sandbox: Sandbox
) -> None:
    rows = [{"email": f"u{n}@example.com", "first_name": f"U{n}"} for n in range(4)]
    rows.append(dict(rows[0]))  # a duplicate row is created again, not merged

    created = await ct.wallet_users.create_many(card.id, rows)

    assert [u.email for u in created] == [r["email"] for r in rows]
    assert [u.id for u in created] == sorted({u.id for u in created})
    assert len(sandbox.state.wallet.users_with_email(card.id, "u0@example.com")) == 2
    events = sandbox.state.events
    assert [e["user"]["id"] for e in events] == [u.id for u in created]
    assert {e["type"] for e in events} == {"loyalty_v3_created"}


async def test_bulk_create_with_one_bad_row_creates_nobody(sandbox: Sandbox, card: Card) -> None:
    # The client validates rows before sending; this goes around it, as another client might.
    rows = [{"email": "ok@example.com"}, {"email": "not an email"}]
    headers = {"x-api-key": sandbox.client_id, "x-api-secret": sandbox.client_secret}
    async with httpx.AsyncClient(transport=sandbox.transport(), base_url="https://sb") as http:
        response = await http.post(
            f"/v4/loyalty/loyalty-cards/{card.id}/stats/bulk", json=rows, headers=headers
        )

    assert response.status_code == 422
    assert "[1]" in response.json()["message"]
    assert card.users == {}
    assert sandbox.state.events == []


# ------------------------------------------------------------------- stamps, rewards


async def test_stamps_earn_a_reward_at_the_threshold(ct: AsyncClient, card: Card) -> None:
    user = await ct.wallet_users.create(card.id, first_name="Ann")

    two = await ct.wallet_users.add_stamps(card.id, user.id, amount=2)
    three = await ct.wallet_users.add_stamps(card.id, user.id, amount=1)
    ten = await ct.wallet_users.add_stamps(card.id, user.id, amount=7)

    assert (two.stamps, two.rewards) == (2, [])
    assert three.stamps == 0
    assert three.rewards is not None
    assert len(three.rewards) == 1
    reward = three.rewards[0]
    assert reward.name == "Free coffee"
    assert reward.used_at is None
    assert reward.added_at is not None
    assert reward.expired_at == reward.added_at + timedelta(days=30)
    assert ten.stamps == 1
    assert ten.rewards is not None
    assert len(ten.rewards) == 3
    assert len({r.id for r in ten.rewards}) == 3


async def test_a_reward_can_be_used_once(ct: AsyncClient, card: Card) -> None:
    user = await ct.wallet_users.create(card.id, first_name="Ann")
    earned = await ct.wallet_users.add_stamps(card.id, user.id, amount=3)
    assert earned.rewards is not None
    reward_id = earned.rewards[0].id

    used = await ct.wallet_users.use_rewards(card.id, user.id, reward_ids=[reward_id])

    assert used.rewards is not None
    assert used.rewards[0].used_at is not None
    with pytest.raises(
        InvalidRequestError, match=f"Reward {reward_id} cannot be used: already used"
    ):
        await ct.wallet_users.use_rewards(card.id, user.id, reward_ids=[reward_id])


async def test_using_rewards_is_all_or_nothing(ct: AsyncClient, card: Card) -> None:
    user = await ct.wallet_users.create(card.id, first_name="Ann")
    earned = await ct.wallet_users.add_stamps(card.id, user.id, amount=3)
    assert earned.rewards is not None
    good = earned.rewards[0].id

    with pytest.raises(InvalidRequestError, match="Reward 999 cannot be used") as caught:
        await ct.wallet_users.use_rewards(card.id, user.id, reward_ids=[good, 999])
    assert caught.value.status_code == 422
    with pytest.raises(InvalidRequestError, match="already used"):
        await ct.wallet_users.use_rewards(card.id, user.id, reward_ids=[good, good])

    after = await ct.wallet_users.get(card.id, user.id)
    assert after.rewards is not None
    assert after.rewards[0].used_at is None


async def test_an_expired_reward_cannot_be_used(ct: AsyncClient, card: Card) -> None:
    user = await ct.wallet_users.create(card.id, first_name="Ann")
    await ct.wallet_users.add_stamps(card.id, user.id, amount=3)
    reward = card.users[user.id].rewards[0]
    reward.expired_at = datetime.now(timezone.utc) - timedelta(minutes=1)

    with pytest.raises(InvalidRequestError, match=f"Reward {reward.id} cannot be used: expired"):
        await ct.wallet_users.use_rewards(card.id, user.id, reward_ids=[reward.id])


async def test_a_reward_of_another_user_cannot_be_used(ct: AsyncClient, card: Card) -> None:
    ann = await ct.wallet_users.create(card.id, first_name="Ann")
    bob = await ct.wallet_users.create(card.id, first_name="Bob")
    earned = await ct.wallet_users.add_stamps(card.id, ann.id, amount=3)
    assert earned.rewards is not None

    with pytest.raises(InvalidRequestError, match="not a reward of this user"):
        await ct.wallet_users.use_rewards(card.id, bob.id, reward_ids=[earned.rewards[0].id])


# -------------------------------------------------------------------- void, delete


async def test_a_voided_user_gets_no_stamps_and_voiding_again_is_harmless(
    ct: AsyncClient, card: Card
) -> None:
    user = await ct.wallet_users.create(card.id, first_name="Ann")

    voided = await ct.wallet_users.void(card.id, user.id)
    again = await ct.wallet_users.void(card.id, user.id)

    assert voided.voided_at is not None
    assert again == voided
    with pytest.raises(InvalidRequestError, match="User is voided"):
        await ct.wallet_users.add_stamps(card.id, user.id, amount=1)


async def test_a_deleted_user_is_gone(ct: AsyncClient, card: Card, sandbox: Sandbox) -> None:
    user = await ct.wallet_users.create(card.id, email="ann@example.com")

    await ct.wallet_users.delete(card.id, user.id)

    with pytest.raises(NotFoundError, match="User not found"):
        await ct.wallet_users.get(card.id, user.id)
    with pytest.raises(NotFoundError):
        await ct.wallet_users.delete(card.id, user.id)
    assert await ct.wallet_users.list(card.id, include_voided=True) == []
    assert await ct.wallet_users.list(card.id, keyword="ann@example.com", strict=True) == []
    assert sandbox.state.wallet.users_with_email(card.id, "ann@example.com") == []
    assert user.id not in sandbox.state.wallet.users


# ---------------------------------------------------------------------------- push


async def test_push_reaches_every_active_user_or_the_named_ones(
    ct: AsyncClient, card: Card, sandbox: Sandbox
) -> None:
    users = await ct.wallet_users.create_many(card.id, [{"first_name": "A"}] * 4)
    await ct.wallet_users.void(card.id, users[3].id)

    everyone = await ct.wallet_cards.push(card.id, message="Double stamps today")
    targeted = await ct.wallet_cards.push(
        card.id, message="Your coffee is ready", recipient_stat_ids=[users[0].id, 9999]
    )

    assert (everyone.message, everyone.total_recipients) == ("Double stamps today", 3)
    assert (targeted.message, targeted.total_recipients) == ("Your coffee is ready", 1)
    pushes = sandbox.state.wallet.pushes
    assert [(p.card_id, p.message) for p in pushes] == [
        (card.id, "Double stamps today"),
        (card.id, "Your coffee is ready"),
    ]
    assert pushes[0].recipients == [u.id for u in users[:3]]
    assert pushes[1].recipients == [users[0].id]


# ----------------------------------------------------------------- webhook verification


async def test_an_emitted_webhook_can_be_verified(
    ct: AsyncClient, card: Card, sandbox: Sandbox
) -> None:
    await ct.wallet_users.create(card.id, first_name="Ann")
    event = sandbox.state.events[0]

    verified = await ct.webhooks.verify(webhook=event["id"])

    assert verified.webhook == event["id"]
    assert verified.type == "loyalty_v3_created"
    assert verified.datetime is not None
    assert verified.datetime.strftime("%Y-%m-%d %H:%M:%S") == event["datetime"]
    assert verified.coupon is None
    assert verified.statcode is None


async def test_verifying_an_unknown_webhook_fails_with_509(ct: AsyncClient) -> None:
    with pytest.raises(NotFoundError, match="Webhook not found") as caught:
        await ct.webhooks.verify(webhook="evt_01234567890123456789")
    assert caught.value.code == 509


def test_verification_names_the_campaign_and_session_of_coupon_events() -> None:
    state = SandboxState()
    state.events.append(
        {
            "id": "evt_abc",
            "datetime": "2025-01-02 03:04:05",
            "type": "coupon_claimed",
            "campaign": "cam_12345",
            "session": "2e8g45wmyawppwubnk5r7",
            "coupon": {"coupon_code": "u3s3dg"},
        }
    )

    answer = _call(state, "webhooks_verify", {}, {"webhook": "evt_abc"})

    assert answer == {
        "webhook": "evt_abc",
        "datetime": "2025-01-02 03:04:05",
        "type": "coupon_claimed",
        "coupon": "cam_12345",
        "statcode": "2e8g45wmyawppwubnk5r7",
    }


# ------------------------------------------------------------------- seed and scale


def test_the_same_seed_gives_the_same_wallet() -> None:
    def seeded(value: int) -> Any:
        state = SandboxState()
        seed(state, random.Random(value), sessions=0)
        return state.wallet

    assert seeded(7) == seeded(7)
    assert seeded(7) != seeded(8)
    wallet = seeded(7)
    users = [u for card in wallet.cards.values() for u in card.users.values()]
    assert [c.name for c in wallet.cards.values()] == ["Coffee club", "Membership card", "VIP"]
    assert all(24 <= len(card.users) <= 40 for card in wallet.cards.values())
    assert any(u.rewards for u in users)
    assert any(u.voided_at for u in users)
    assert len({u.email for u in users}) == len(users)


def test_seeded_sandboxes_agree() -> None:
    first, second = Sandbox.seeded(seed=3, sessions=10), Sandbox.seeded(seed=3, sessions=10)
    assert first.state.wallet == second.state.wallet


@pytest.fixture(scope="module")
def big_state() -> tuple[SandboxState, Card]:
    """One card with 100,000 users (built below the API: creating them is not the point)."""
    state = SandboxState()
    card = state.wallet.new_card(name="Big", type="stamp", reward_name="R")
    for n in range(100_000):
        state.wallet.new_user(card, {"email": f"user{n}@example.com", "first_name": "U"}, NOW)
    return state, card


def test_a_strict_email_filter_looks_up_instead_of_scanning(
    big_state: tuple[SandboxState, Card], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, card = big_state
    looked_at = 0
    searched = CardUser.searched_values

    def counting(user: CardUser) -> Any:
        nonlocal looked_at
        looked_at += 1
        return searched(user)

    monkeypatch.setattr(CardUser, "searched_values", counting)
    body = {"filter": {"keyword": "USER77777@example.com", "strict": True}}

    [found] = _call(state, "wallet_users_list", {"card_id": card.id}, body)

    assert found["email"] == "user77777@example.com"
    assert looked_at == 0


def test_paging_through_a_big_card_sees_every_user_once(
    big_state: tuple[SandboxState, Card],
) -> None:
    state, card = big_state
    seen: list[int] = []
    page = 1
    while True:
        body = {"pagination": {"page": page, "per_page": 100}}
        users = _call(state, "wallet_users_list", {"card_id": card.id}, body)
        if not users:
            break
        seen.extend(u["id"] for u in users)
        page += 1
    assert seen == list(card.users)
    assert len(seen) == 100_000


def test_a_card_user_reads_its_user_fields_as_attributes_and_refuses_unknown_names() -> None:
    state = SandboxState()
    seed(state, random.Random(3), sessions=0)
    card = next(iter(state.wallet.cards.values()))
    user = state.wallet.new_user(card, {"first_name": "Ann", "custom_8": "x"}, SEED_EPOCH)
    assert (user.first_name, user.custom_8, user.city) == ("Ann", "x", None)
    assert user.payload()["first_name"] == "Ann"
    assert "city" not in user.payload()
    with pytest.raises(AttributeError):
        _ = user.frist_name
