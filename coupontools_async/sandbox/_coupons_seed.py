"""Seed data of the v3 coupon domain: five coupons and sessions in every state."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._campaigns import (
    _CODE_ALPHABET,
    CUSTOM_FIELDS,
    UTC,
    Campaign,
    CouponsState,
)

if TYPE_CHECKING:
    from ._state import SandboxState

__all__ = ["seed"]

# --------------------------------------------------------------------- seed

_FIRST_NAMES = ("Ann", "Bram", "Chloe", "Dirk", "Emma", "Finn", "Greet", "Hugo", "Ines", "Jan")
_LAST_NAMES = ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Wouters")
_SEED_BASE = datetime(2024, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
_PAST = datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC)


def seed(state: SandboxState, rng: random.Random, *, sessions: int) -> None:
    """Add five coupons and ``sessions`` sessions in every state (the same rng, the same data).

    On an empty account the coupons are cam_1000001 (active, in a folder, with the most
    sessions), cam_1000002 (inactive, expired in 2024), cam_1000003 (flexible expiry),
    cam_1000004 (no expiry) and cam_1000005. Dates are fixed (2024), not relative to today,
    so a seed gives the same data on any day; expired sessions expire in 2024 and unstarted
    ones start in 2099.
    """
    st = state.coupons
    st.salt = f"{rng.getrandbits(32):08x}"
    st.rng.seed(rng.getrandbits(64))
    st.folders.update({"fol_1001": "Seasonal", "fol_1002": "Loyalty"})
    st.categories.update({"cat_101": "Food & drinks", "cat_102": "Fashion"})

    campaigns = _campaigns(st, rng)
    _sessions(st, rng, campaigns, sessions)


def _campaigns(st: CouponsState, rng: random.Random) -> list[Campaign]:
    """The five seeded coupons."""

    def short_code() -> str:
        return "".join(rng.choice(_CODE_ALPHABET[10:]) for _ in range(3)) + str(
            rng.randrange(10, 99)
        )

    return [
        st.add_campaign(
            code=short_code(),
            name="Summer sale",
            title="10% off your next order",
            subtitle="All summer long",
            coupon_value="10%",
            folder="fol_1001",
            tags=("summer", "sale"),
            category="cat_102",
            expiry=_FAR_FUTURE,
        ),
        st.add_campaign(
            code=short_code(),
            name="Winter sale",
            title="Free scarf",
            coupon_value="scarf",
            status="inactive",
            folder="fol_1001",
            tags=("winter",),
            category="cat_102",
            expiry=_PAST,
        ),
        st.add_campaign(
            code=short_code(),
            name="Free coffee",
            title="A free coffee",
            coupon_value="1 coffee",
            folder="fol_1002",
            tags=("coffee", "loyalty"),
            category="cat_101",
            flexible_expiry=timedelta(days=30),
        ),
        st.add_campaign(
            code=short_code(),
            name="Birthday gift",
            title="A gift for you",
            coupon_value="gift",
            tags=("birthday",),
            category="cat_101",
        ),
        st.add_campaign(
            code=short_code(),
            name="Black Friday",
            title="30% off everything",
            coupon_value="30%",
            tags=("sale",),
            expiry=_FAR_FUTURE,
        ),
    ]


def _sessions(
    st: CouponsState, rng: random.Random, campaigns: list[Campaign], sessions: int
) -> None:
    """``sessions`` sessions of the coupons, in every state, spread over 2024."""
    weights = (40, 10, 25, 15, 10)
    picks = rng.choices(campaigns, weights=weights, k=sessions)
    random_ = rng.random  # int(random_() * n) rather than randrange: seeding 100k sessions is hot
    people = max(20, sessions // 3)  # fewer people than sessions: searches find several
    span = 360 * 24 * 3600
    step = max(2, 2 * span // max(1, sessions))
    moment = _SEED_BASE
    for campaign in picks:
        moment += timedelta(seconds=1 + int(random_() * step))
        person = int(random_() * people)
        first = _FIRST_NAMES[person % len(_FIRST_NAMES)]
        last = _LAST_NAMES[person % len(_LAST_NAMES)]
        fields: dict[str, Any] = {"firstname": first, "lastname": last}
        roll = random_()
        if roll < 0.5:
            fields["email"] = f"{first.lower()}.{last.lower()}{person}@example.com"
        if random_() < 0.3:
            fields["phone"] = f"+3247{person:07d}"
        if random_() < 0.4:
            # Sequence-derived, so unique in the campaign and at least 5 characters.
            fields["validation_code"] = f"VC{st.next_sequence}"
        if random_() < 0.2:
            fields["customid"] = f"cust{person}"
        if random_() < 0.3:
            fields["custom_fields"] = [f"store-{person % 12}"] + [""] * (CUSTOM_FIELDS - 1)
        # Seeded sessions of the flexible coupon have no start or expiry yet: their clock
        # starts on operation=activate (API-created ones start when created).
        state_roll = random_()
        opened = moment + timedelta(seconds=5 + int(random_() * 600))
        claimed = opened + timedelta(seconds=5 + int(random_() * 900))
        validated = claimed + timedelta(seconds=60 + int(random_() * 7 * 24 * 3600))
        if state_roll < 0.10:
            pass  # created (a single-use URL or a send) but never opened
        elif state_roll < 0.35:
            fields["opened_at"] = opened
        elif state_roll < 0.60:
            fields.update(opened_at=opened, claimed_at=claimed, claimtype="form")
        elif state_roll < 0.80:
            fields.update(
                opened_at=opened, claimed_at=claimed, claimtype="form", validated_at=validated
            )
        elif state_roll < 0.87:
            fields.update(opened_at=opened, voided_at=claimed)
            if random_() < 0.5:
                fields.update(claimed_at=claimed, claimtype="form")
        elif state_roll < 0.93:
            fields.update(opened_at=opened, claimed_at=claimed, claimtype="form", locked=True)
        elif state_roll < 0.97:
            fields["start_at"] = datetime(2099, 1, 1, tzinfo=UTC)  # scheduled, not started
        else:
            fields.update(opened_at=opened, expiry=_PAST)
        if "claimed_at" in fields and random_() < 0.3:
            fields["saved_to_passbook"] = True
        st.add_session(campaign, created_at=moment, **fields)
