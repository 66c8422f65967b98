"""Sandbox domains: legacy web loyalty cards and their users, the SMS and the email tool (v3).

Payloads use the wire names of the spec's ``LoyaltyCard*``, ``LoyaltyUser*``,
``LoyaltyPushResponse``, ``Sms*`` and ``Email*`` schemas. Where the docs are silent (most
of web loyalty: api-docs 000 lost its parameters, answers and errors) the choices are
said in a comment next to the code that makes them.
"""

from __future__ import annotations

import hashlib
import random
import string
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from ._core import Call, fail, handles
from ._wire_helpers import code as _code
from ._wire_helpers import ts as _ts

if TYPE_CHECKING:
    from ._state import SandboxState

__all__ = [
    "OWNER_SUBACCOUNT",
    "LoyaltyState",
    "LoyaltyUser",
    "Membership",
    "WebLoyaltyCard",
    "seed",
]

OWNER_SUBACCOUNT = "sub_1000"
"""The sandbox account's own id: ``loyalty_complete`` events name it as the card's owner
(the docs' example names a ``sub_...``; which one is not documented)."""

_BIRTHDAY_FORMAT = "incorrect format in birthday field, must be yyyy-MM-dd"
_SAVED = "saved_successfully"


def _valid_birthday(value: Any) -> str | None:
    """The birthday as given (None when absent); 303 with the documented text when malformed."""
    if value is None:
        return None
    try:
        date.fromisoformat(str(value))
    except ValueError:
        fail(303, _BIRTHDAY_FORMAT)
    if len(str(value)) != 10:  # fromisoformat also takes "20200101"; the docs want yyyy-MM-dd
        fail(303, _BIRTHDAY_FORMAT)
    return str(value)


# ---------------------------------------------------------------------------- loyalty


@attrs.define(kw_only=True)
class Membership:
    """A user's place on one card: the card session (``statcode``) and its stamps."""

    statcode: str = ""
    stamps: int = 0
    completions: int = 0
    """How many times the stamps reached the card's ``amount_of_stamps``."""


@attrs.define(kw_only=True)
class WebLoyaltyCard:
    """A v3 (legacy web) loyalty card."""

    id: str = ""
    code: str = ""
    name: str = ""
    status: str = "active"
    type: str = "stampcard"
    amount_of_stamps: int = 10
    subaccount: str = OWNER_SUBACCOUNT
    members: dict[str, Membership] = attrs.Factory(dict)
    """Linked users by ``lus_...`` id, in link order."""

    @property
    def url(self) -> str:
        """The card's public URL, as in the api-docs 002 example."""
        return f"https://loyaltycard.mobi/ac/{self.code}"

    def payload(self) -> dict[str, Any]:
        """The ``LoyaltyCard`` wire object."""
        return {
            "ID": self.id,
            "code": self.code,
            "url": self.url,
            "status": self.status,
            "name": self.name,
            "type": self.type,
            "amount_of_stamps": self.amount_of_stamps,
        }


@attrs.define(kw_only=True)
class LoyaltyUser:
    """A web loyalty card user (``lus_...``); cards are joined with loyaltyusers/link."""

    id: str = ""
    email: str = ""
    password_sha256: str = ""
    """Only a digest is kept, so a state dump never shows a password."""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    gender: str = ""
    birthday: str | None = None
    city: str = ""
    social_type: str = ""
    profile_picture: str = ""
    subscribed_for_marketing: bool = False
    created_at: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def payload(self, stamps: int, today: date) -> dict[str, Any]:
        """The ``LoyaltyUser`` wire object, with this user's stamps on one card."""
        return {
            "ID": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "gender": self.gender,
            "age_range": _age_range(self.birthday, today),
            "profile_picture": self.profile_picture,
            "email": self.email,
            "phone": self.phone,
            "social_type": self.social_type,
            "stamps": stamps,
            "subscribed_for_marketing": self.subscribed_for_marketing,
        }

    def matches(self, needle: str) -> bool:
        """Whether ``needle`` (lowercase) is part of the name, email, phone or ID."""
        return any(
            needle in field.lower()
            for field in (self.id, self.first_name, self.last_name, self.email, self.phone)
        )


_AGE_RANGES = ((18, "0-17"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"))


def _age_range(birthday: str | None, today: date) -> str:
    """The docs show ``age_range`` empty; we derive a bucket when the birthday is known."""
    if not birthday:
        return ""
    born = date.fromisoformat(birthday)
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    for limit, label in _AGE_RANGES:
        if age < limit:
            return label
    return "55+"


@attrs.define(kw_only=True)
class LoyaltyState:
    """Web loyalty cards (``loy_...``) and their users (``lus_...``)."""

    cards: dict[str, WebLoyaltyCard] = attrs.Factory(dict)
    users: dict[str, LoyaltyUser] = attrs.Factory(dict)
    user_by_email: dict[str, str] = attrs.Factory(dict)
    """Lowercased email → user id: an email is unique per account."""
    pushes: list[dict[str, Any]] = attrs.Factory(list)
    """Every push sent with loyalty/pushnotification/list: card, message, recipients, datetime."""
    next_card: int = 1037746
    next_user: int = 123456

    def add_card(
        self, *, name: str, amount_of_stamps: int, status: str = "active"
    ) -> WebLoyaltyCard:
        """A new card with the next id (cards are made in the dashboard, not through the API)."""
        card_id = f"loy_{self.next_card}"
        self.next_card += 1
        card = WebLoyaltyCard(
            id=card_id,
            code=_code(card_id, 6),
            name=name,
            status=status,
            amount_of_stamps=amount_of_stamps,
        )
        self.cards[card_id] = card
        return card

    def add_user(self, user: LoyaltyUser) -> LoyaltyUser:
        """Store ``user`` under the next id."""
        user.id = f"lus_{self.next_user}"
        self.next_user += 1
        self.users[user.id] = user
        self.user_by_email[user.email.lower()] = user.id
        return user

    def link(self, card: WebLoyaltyCard, user_id: str) -> Membership:
        """The user's membership of the card, made on first link."""
        member = card.members.get(user_id)
        if member is None:
            member = Membership(statcode=_code(f"{card.id}/{user_id}", 21))
            card.members[user_id] = member
        return member


def _card(call: Call, code: int, message: str) -> WebLoyaltyCard:
    card = call.state.loyalty.cards.get(call.text("loyaltycard"))
    if card is None:
        fail(code, message)
    return card


# Only loyalty/info (507) and loyaltyusers/list (505) document an unknown
# card; the others answer the 505 of loyaltyusers/list, the closest documented one.
_CARD_505 = "Loyalty card ID not found"


def _linked_user(call: Call, card: WebLoyaltyCard) -> tuple[LoyaltyUser, Membership]:
    """The user named by ``user`` and its membership of ``card``.

    Undocumented: an unknown user, or one not linked to the card, is answered with 505
    (the family's "... ID not found" code) and a text saying which.
    """
    user_id = call.text("user")
    user = call.state.loyalty.users.get(user_id)
    if user is None:
        fail(505, "Loyalty user ID not found")
    member = card.members.get(user_id)
    if member is None:
        fail(505, "Loyalty user is not linked to this loyalty card")
    return user, member


@handles("loyalty_cards_list")
def loyalty_cards_list(call: Call) -> dict[str, Any]:
    """Every card; ``only_active`` keeps the cards whose status is ``active``."""
    only_active = call.arg("only_active") in (True, 1, "1", "true")
    cards = call.state.loyalty.cards.values()
    return {
        "loyaltycard": [c.payload() for c in cards if not only_active or c.status == "active"],
    }


@handles("loyalty_cards_get")
def loyalty_cards_get(call: Call) -> dict[str, Any]:
    """One card, as a one-item ``loyaltycard`` list (spec x-assumption)."""
    card = _card(call, 507, "Loyalty card not found")
    return {"loyaltycard": [card.payload()]}


@handles("loyalty_cards_push_all")
def loyalty_cards_push_all(call: Call) -> dict[str, Any]:
    """Push to every user linked to the card.

    Every linked user counts as having the card in the wallet (the sandbox has no phones).
    With none, 507 with the text coupon/pushnotification/list documents for the same case.
    """
    card = _card(call, 505, _CARD_505)
    if not card.members:
        fail(507, "0 users have saved the loyalty card")
    call.state.loyalty.pushes.append(
        {
            "loyaltycard": card.id,
            "message": call.text("message"),
            "recipients": list(card.members),
            "datetime": _ts(call.now()),
        }
    )
    return {"result": f"push_notification_sent_to_{len(card.members)}_users"}


@handles("loyalty_users_create")
def loyalty_users_create(call: Call) -> dict[str, Any]:
    """A new user; the email is unique per account (304, reusing FACTS' "Email already exists")."""
    email = call.text("email").strip()
    if not email:
        fail(200, "You need to provide an email address.")
    password = call.text("password")
    if not password:
        fail(200, "You need to provide a password.")
    state = call.state.loyalty
    if email.lower() in state.user_by_email:
        fail(304, "Email already exists")
    user = state.add_user(
        LoyaltyUser(
            email=email,
            password_sha256=hashlib.sha256(password.encode()).hexdigest(),
            phone=call.text("phone"),
            first_name=call.text("first_name"),
            last_name=call.text("last_name"),
            gender=call.text("gender"),
            birthday=_valid_birthday(call.arg("birthday")),
            city=call.text("city"),
            created_at=call.now(),
        )
    )
    return {"result": _SAVED, "user_id": user.id}


@handles("loyalty_users_link")
def loyalty_users_link(call: Call) -> dict[str, Any]:
    """Link a user to a card. Linking again keeps the stamps and answers ``already_linked``."""
    card = _card(call, 505, _CARD_505)
    user_id = call.text("user")
    if user_id not in call.state.loyalty.users:
        fail(505, "Loyalty user ID not found")
    result = "already_linked" if user_id in card.members else "linked_successfully"
    call.state.loyalty.link(card, user_id)
    return {"result": result, "loyaltycard": card.id, "user": user_id}


@handles("loyalty_users_list")
def loyalty_users_list(call: Call) -> dict[str, Any]:
    """The card and all its users, in link order (not paged, as documented)."""
    card = _card(call, 505, _CARD_505)
    users = call.state.loyalty.users
    today = call.now().date()
    return {
        "loyaltycard": [card.payload()],
        "amount_of_users": len(card.members),
        "users": [users[uid].payload(m.stamps, today) for uid, m in card.members.items()],
    }


@handles("loyalty_users_search")
def loyalty_users_search(call: Call) -> dict[str, Any]:
    """Users of the card whose name, email, phone or ID contains ``search`` (any case)."""
    card = _card(call, 505, _CARD_505)
    needle = call.text("search").lower()
    users = call.state.loyalty.users
    today = call.now().date()
    found = [
        users[uid].payload(m.stamps, today)
        for uid, m in card.members.items()
        if users[uid].matches(needle)
    ]
    return {"amount_of_users": len(found), "users": found}


@handles("loyalty_users_update")
def loyalty_users_update(call: Call) -> dict[str, Any]:
    """Add ``amount`` stamps (negative removes, never below 0).

    Reaching the card's ``amount_of_stamps`` from below emits ``loyalty_complete``; the
    balance is kept as is (the docs say nothing of a reset), so a full card stays full
    until stamps are taken off, and completes again when it is filled again.
    """
    card = _card(call, 505, _CARD_505)
    user, member = _linked_user(call, card)
    before = member.stamps
    member.stamps = max(0, before + int(call.arg("amount", 0)))
    if before < card.amount_of_stamps <= member.stamps:
        member.completions += 1
        call.emit(
            "loyalty_complete",
            {"subaccount": card.subaccount, "loyaltycard": card.id, "statcode": member.statcode},
        )
    return {
        "result": "updated_successfully",
        "loyaltycard": card.id,
        "user": user.id,
        "stamps": member.stamps,
    }


# ------------------------------------------------------------------------------ seed

_FIRST = (
    "John", "Jane", "Bill", "Jeff", "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas",
    "Mia", "Elena", "Pieter", "Sofia", "Jonas", "Lena", "Marc", "Nora", "Tom", "Zoe",
)  # fmt: skip
_LAST = (
    "Doe", "Jackson", "Jefferson", "Peeters", "Janssens", "Smith", "Garcia", "Martin",
    "Dubois", "Rossi", "Muller", "Novak", "Silva", "Meyer", "Claes", "Wouters",
)  # fmt: skip
_SEED_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _seed_person(rng: random.Random, n: int) -> tuple[str, str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return first, last, f"{first}.{last}.{n}@example.com".lower()


def _seed_phone(rng: random.Random) -> str:
    return "+324" + "".join(rng.choice(string.digits) for _ in range(8))


def seed(state: SandboxState, rng: random.Random, *, sessions: int) -> None:
    """Four web loyalty cards with their users; two SMS and two email groups with contacts.

    Deterministic for a given ``rng``; ``sessions`` (coupon sessions) does not apply here.
    """
    del sessions
    loyalty = state.loyalty
    cards = [
        loyalty.add_card(name="Coffee card", amount_of_stamps=8),
        loyalty.add_card(name="Pizza club", amount_of_stamps=10),
        loyalty.add_card(name="Car wash", amount_of_stamps=5),
        loyalty.add_card(name="Summer smoothies", amount_of_stamps=6, status="inactive"),
    ]
    for n in range(40):
        first, last, email = _seed_person(rng, n)
        birthday = _SEED_EPOCH.date() - timedelta(days=rng.randrange(18 * 365, 70 * 365))
        social = rng.choice(("Google", "Facebook", ""))
        user = loyalty.add_user(
            LoyaltyUser(
                email=email,
                password_sha256=hashlib.sha256(f"pw{n}".encode()).hexdigest(),
                phone=_seed_phone(rng) if rng.random() < 0.6 else "",
                first_name=first,
                last_name=last,
                gender=rng.choice(("male", "female", "unknown")),
                birthday=birthday.isoformat(),
                city=rng.choice(("Ghent", "Antwerp", "Brussels", "Leuven")),
                social_type=social,
                profile_picture=(
                    f"https://loyaltycard.mobi/uploads/{_code(email, 10)}.png" if social else ""
                ),
                subscribed_for_marketing=rng.random() < 0.7,
                created_at=_SEED_EPOCH + timedelta(minutes=rng.randrange(200_000)),
            )
        )
        # Every user holds one or two cards, short of completing them.
        for card in rng.sample(cards, rng.choice((1, 1, 2))):
            loyalty.link(card, user.id).stamps = rng.randrange(card.amount_of_stamps)

    messaging = state.messaging
    for sms, names in (
        (True, ("Subscribers keyword pizza", "Subscribers keyword burger")),
        (False, ("Newsletter", "Subscribers to pizza coupon")),
    ):
        for name in names:
            group = messaging.add_group(name, sms=sms)
            for n in range(rng.randrange(5, 13)):
                first, last, email = _seed_person(rng, n)
                address = _seed_phone(rng).lstrip("+") if sms else email
                contact = messaging.save_contact(
                    group,
                    address,
                    {"phone" if sms else "email": address, "first_name": first, "last_name": last},
                )
                if rng.random() < 0.2:
                    contact.unsubscribed = True
                    contact.unsubscribed_at = _SEED_EPOCH + timedelta(
                        minutes=rng.randrange(200_000)
                    )
