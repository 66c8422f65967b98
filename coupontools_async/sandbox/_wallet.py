"""The v4 wallet loyalty cards and their users (stats), stamps, rewards and pushes.

Also the webhook verification endpoint, which looks up any event the sandbox emitted.

Users live in one dict per card, in creation order (ids come from one counter, so that
is id order), with an index from every searchable value (lower-cased email, phone,
names, code) to the users holding it: a strict ``filter`` (the bulk importer's "does
this email exist?") is a dict lookup, not a scan of 100,000 users. A non-strict filter
has to scan, so the filtered list is cached per card until the card's users change;
paging through it is then a slice per page.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from ._checks import rules_of
from ._core import Call, handles, http_fail
from ._wire_helpers import code as _code
from ._wire_helpers import ts as _ts

if TYPE_CHECKING:
    from ._state import SandboxConfig, SandboxState

__all__ = [
    "USER_FIELDS",
    "Card",
    "CardUser",
    "Push",
    "Reward",
    "WalletState",
    "seed",
]

USER_FIELDS: tuple[str, ...] = tuple(rules_of("wallet_users_update")["body"]["properties"])
"""The user data a create or update may set, in the order the docs print them."""

_USER_FIELD_SET = frozenset(USER_FIELDS)

SEARCHED_FIELDS = ("email", "phone", "first_name", "last_name", "code")
"""What ``filter.keyword`` is matched against."""

SEED_EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
"""Seeded timestamps count from here, not from the clock, so a seed gives equal states."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@attrs.define(kw_only=True)
class Reward:
    """A reward a user earned with stamps."""

    id: int
    name: str
    added_at: datetime
    expired_at: datetime | None = None
    used_at: datetime | None = None

    def payload(self) -> dict[str, Any]:
        """As the API shows it (``used_at`` only once used, like the docs)."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "added_at": _ts(self.added_at),
            "expired_at": _ts(self.expired_at),
        }
        if self.used_at is not None:
            data["used_at"] = _ts(self.used_at)
        return data


@attrs.define(kw_only=True)
class CardUser:
    """A user (stat) of a wallet card; its ``first_name`` ... ``custom_8`` are in ``fields``."""

    id: int
    card_id: int
    code: str
    download_url: str
    created_at: datetime
    voided_at: datetime | None = None
    stamps: int = 0
    rewards: list[Reward] = attrs.Factory(list)
    fields: dict[str, str] = attrs.Factory(dict)
    """The user data that is set, by ``USER_FIELDS`` name (an unset field is absent)."""

    def __getattr__(self, name: str) -> str | None:
        # user.first_name ... user.custom_8 read as before the fields moved into a dict
        # (the sandbox's state is what tests inspect); None when unset.
        if name in _USER_FIELD_SET:
            return self.fields.get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def voided(self) -> bool:
        """Whether the user's card was voided."""
        return self.voided_at is not None

    def searched_values(self) -> Iterator[str]:
        """The lower-cased values ``filter.keyword`` is matched against."""
        values = {**self.fields, "code": self.code}
        for name in SEARCHED_FIELDS:
            value = values.get(name)
            if value:
                yield value.lower()

    def payload(self) -> dict[str, Any]:
        """As the API shows it: unset user fields are left out, like in the docs' examples."""
        data: dict[str, Any] = {"id": self.id, "code": self.code}
        data.update((name, self.fields[name]) for name in USER_FIELDS if name in self.fields)
        data["stamps"] = self.stamps
        data["download_url"] = self.download_url
        data["created_at"] = _ts(self.created_at)
        data["voided_at"] = _ts(self.voided_at)
        data["rewards"] = [reward.payload() for reward in self.rewards]
        return data


_ListingKey = tuple[int, bool, str]


@attrs.define(kw_only=True)
class Card:
    """A wallet loyalty card with its users."""

    id: int
    code: str
    name: str
    domain: str = "loyalty.coupontools.com"
    type: str = "membership"
    reward_name: str = "Reward"
    """Name of the rewards its stamps earn (not part of the API's card payload)."""
    users: dict[int, CardUser] = attrs.Factory(dict)
    """By id, in creation (= id) order."""
    index: dict[str, dict[int, None]] = attrs.field(factory=dict, repr=False)
    """Lower-cased searched value -> ids of the users holding it (a dict as an ordered set)."""
    version: int = attrs.field(default=0, eq=False, repr=False)
    """Bumped whenever what a listing shows of the users may change (not for stamps)."""
    _listing: tuple[_ListingKey, list[CardUser]] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )

    def payload(self) -> dict[str, Any]:
        """As the API shows it (WalletCard)."""
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "domain": self.domain,
            "type": self.type,
        }

    def with_email(self, email: str) -> list[CardUser]:
        """The users with this email (any case), oldest first; more than one if duplicated."""
        key = email.lower()
        found = (self.users[i] for i in self.index.get(key, {}))
        return sorted((u for u in found if (u.email or "").lower() == key), key=_by_id)

    # Maintenance of the index and the listing cache; every change of users goes through here.

    def add(self, user: CardUser) -> None:
        """Add a new user (its id must be higher than every id on the card)."""
        self.users[user.id] = user
        self._index(user)
        self.version += 1

    def remove(self, user: CardUser) -> None:
        """Delete a user (use ``WalletState.remove_user``, which also forgets it there)."""
        self._unindex(user)
        del self.users[user.id]
        self.version += 1

    def change(self, user: CardUser, fields: dict[str, Any]) -> None:
        """Set these user fields (the others stay as they are)."""
        self._unindex(user)
        user.fields.update(fields)
        self._index(user)
        self.version += 1

    def void(self, user: CardUser, moment: datetime) -> None:
        """Void ``user``'s card at ``moment`` (listings hide it from then on)."""
        user.voided_at = moment
        self.version += 1

    def _index(self, user: CardUser) -> None:
        for value in user.searched_values():
            self.index.setdefault(value, {})[user.id] = None

    def _unindex(self, user: CardUser) -> None:
        for value in user.searched_values():
            holders = self.index.get(value)
            if holders is not None:
                holders.pop(user.id, None)
                if not holders:
                    del self.index[value]

    def listing(self, *, include_voided: bool, keyword: str, strict: bool) -> list[CardUser]:
        """The users a list call shows, by id: ``keyword`` is matched case-insensitively.

        The list may be the cached one: read it, do not change it. Users changed other
        than through ``add``/``remove``/``change`` may show stale in it.
        """
        keyword = keyword.lower()
        if keyword and strict:
            holders = self.index.get(keyword, {})
            found = sorted((self.users[i] for i in holders), key=_by_id)
            return found if include_voided else [u for u in found if not u.voided]
        key = (self.version, include_voided, keyword)
        if self._listing is not None and self._listing[0] == key:
            return self._listing[1]
        users: Iterable[CardUser] = self.users.values()
        if not include_voided:
            users = (u for u in users if not u.voided)
        if keyword:
            users = (u for u in users if any(keyword in v for v in u.searched_values()))
        result = list(users)
        self._listing = (key, result)
        return result


def _by_id(user: CardUser) -> int:
    return user.id


@attrs.define(kw_only=True)
class Push:
    """A push notification sent to users of a card."""

    card_id: int
    message: str
    recipients: list[int]
    """Ids of the users it reached."""
    sent_at: datetime


@attrs.define(kw_only=True)
class WalletState:
    """The wallet loyalty cards, their users and the pushes sent."""

    cards: dict[int, Card] = attrs.Factory(dict)
    users: dict[int, CardUser] = attrs.Factory(dict)
    """Every user of every card, by id (each is also in its card's ``users``)."""
    pushes: list[Push] = attrs.Factory(list)
    next_card_id: int = 1
    next_user_id: int = 1
    """One counter for users of every card, like the API's stat ids."""
    next_reward_id: int = 1

    def new_card(
        self, *, name: str, type: str, reward_name: str, domain: str = "loyalty.coupontools.com"
    ) -> Card:
        """Create an empty card."""
        card_id = self.next_card_id
        self.next_card_id += 1
        card = Card(
            id=card_id,
            code=_code(f"card:{card_id}", 6, digest=hashlib.blake2b),
            name=name,
            domain=domain,
            type=type,
            reward_name=reward_name,
        )
        self.cards[card_id] = card
        return card

    def new_user(self, card: Card, fields: dict[str, Any], now: datetime) -> CardUser:
        """Create a user on ``card`` with these user fields (duplicates are allowed)."""
        user_id = self.next_user_id
        self.next_user_id += 1
        code = _code(f"user:{user_id}", 21, digest=hashlib.blake2b)
        user = CardUser(
            id=user_id,
            card_id=card.id,
            code=code,
            download_url=f"https://{card.domain}/{card.code}/{code}",
            created_at=_aware(now),
            fields={name: fields[name] for name in USER_FIELDS if fields.get(name) is not None},
        )
        card.add(user)
        self.users[user_id] = user
        return user

    def remove_user(self, card: Card, user: CardUser) -> None:
        """Delete a user of ``card``."""
        card.remove(user)
        del self.users[user.id]

    def add_stamps(
        self, card: Card, user: CardUser, amount: int, now: datetime, config: SandboxConfig
    ) -> None:
        """Add stamps; every ``stamps_per_reward`` of them become a reward."""
        total = user.stamps + amount
        per_reward = config.stamps_per_reward
        earned, user.stamps = divmod(total, per_reward) if per_reward > 0 else (0, total)
        now = _aware(now)
        for _ in range(earned):
            user.rewards.append(
                Reward(
                    id=self.next_reward_id,
                    name=card.reward_name,
                    added_at=now,
                    expired_at=now + timedelta(days=config.reward_validity_days),
                )
            )
            self.next_reward_id += 1

    def users_with_email(self, card_id: int, email: str) -> list[CardUser]:
        """The users of a card with this email (any case); ``[]`` for an unknown card."""
        card = self.cards.get(card_id)
        return card.with_email(email) if card is not None else []


# ------------------------------------------------------------------------- handlers


def _card(call: Call) -> Card:
    card = call.state.wallet.cards.get(call.path_int("card_id"))
    if card is None:
        http_fail(404, "Loyalty card not found")
    return card


def _user(call: Call, card: Card) -> CardUser:
    user = card.users.get(call.path_int("user_id"))
    if user is None:
        http_fail(404, "User not found")
    return user


def _user_fields(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    return {name: data[name] for name in USER_FIELDS if data.get(name) is not None}


@handles("wallet_cards_list")
def cards_list(call: Call) -> list[dict[str, Any]]:
    """Every card of the account."""
    return [card.payload() for card in call.state.wallet.cards.values()]


@handles("wallet_cards_copy")
def cards_copy(call: Call) -> dict[str, Any]:
    """A new card with the same settings, the given name and no users."""
    card = _card(call)
    # The API caps names at 50 characters; keep the default name within that too.
    name = call.arg("name") or f"{card.name} (copy)"[:50]
    copy = call.state.wallet.new_card(
        name=name, type=card.type, reward_name=card.reward_name, domain=card.domain
    )
    return copy.payload()


@handles("wallet_cards_push")
def cards_push(call: Call) -> dict[str, Any]:
    """Push to the named users of the card (unknown ids ignored), or to every active user."""
    card = _card(call)
    message: str = call.arg("message", "")
    wanted = call.arg("recipient_stat_ids")
    if wanted is None:
        recipients = [u.id for u in card.users.values() if not u.voided]
    else:
        # An id named twice still gets one notification.
        recipients = [i for i in dict.fromkeys(wanted) if i in card.users]
    call.state.wallet.pushes.append(
        Push(card_id=card.id, message=message, recipients=recipients, sent_at=_aware(call.now()))
    )
    return {"message": message, "total_recipients": len(recipients)}


@handles("wallet_users_list")
def users_list(call: Call) -> list[dict[str, Any]]:
    """One page of the card's users, by id, optionally filtered."""
    card = _card(call)
    pagination = call.arg("pagination", {})
    filter_ = call.arg("filter", {})
    page = max(1, int(pagination.get("page") or 1))
    per_page = max(1, int(pagination.get("per_page") or call.state.config.wallet_page_size))
    users = card.listing(
        include_voided=bool(call.arg("include_voided", False)),
        keyword=str(filter_.get("keyword") or ""),
        strict=bool(filter_.get("strict", False)),
    )
    start = (page - 1) * per_page
    return [user.payload() for user in users[start : start + per_page]]


@handles("wallet_users_get")
def users_get(call: Call) -> dict[str, Any]:
    """One user of the card."""
    return _user(call, _card(call)).payload()


def _create(call: Call, card: Card, data: Any) -> dict[str, Any]:
    user = call.state.wallet.new_user(card, _user_fields(data), call.now())
    payload = user.payload()
    call.emit("loyalty_v3_created", {"loyalty_id": card.id, "user": user.payload()})
    return payload


@handles("wallet_users_create")
def users_create(call: Call) -> dict[str, Any]:
    """Create one user and emit ``loyalty_v3_created``."""
    card = _card(call)
    return _create(call, card, call.body)


@handles("wallet_users_create_many")
def users_create_many(call: Call) -> list[dict[str, Any]]:
    """Create every user given, in order, each with its ``loyalty_v3_created`` event."""
    card = _card(call)
    return [_create(call, card, row) for row in call.body or []]


@handles("wallet_users_update")
def users_update(call: Call) -> dict[str, Any]:
    """Set the given user fields; the others stay unchanged."""
    card = _card(call)
    user = _user(call, card)
    card.change(user, _user_fields(call.body))
    return user.payload()


@handles("wallet_users_add_stamps")
def users_add_stamps(call: Call) -> dict[str, Any]:
    """Add stamps to an active user; full rounds of stamps become rewards."""
    card = _card(call)
    user = _user(call, card)
    if user.voided:
        http_fail(422, "User is voided")
    amount = int(call.arg("amount", 0))
    if amount < 1:  # the core checks the documented minimum; this guards direct calls
        http_fail(422, "amount: must be at least 1")
    call.state.wallet.add_stamps(card, user, amount, call.now(), call.state.config)
    return user.payload()


@handles("wallet_users_use_rewards")
def users_use_rewards(call: Call) -> dict[str, Any]:
    """Mark rewards used: all of them or, if one cannot be used, none."""
    card = _card(call)
    user = _user(call, card)
    now = _aware(call.now())
    rewards = {reward.id: reward for reward in user.rewards}
    chosen: dict[int, Reward] = {}
    for reward_id in call.arg("reward_ids", []):
        reward = rewards.get(reward_id)
        why = None
        if reward is None:
            why = "not a reward of this user"
        elif reward.used_at is not None or reward_id in chosen:
            why = "already used"
        elif reward.expired_at is not None and _aware(reward.expired_at) <= now:
            why = "expired"
        if why is not None:
            http_fail(422, f"Reward {reward_id} cannot be used: {why}")
        assert reward is not None
        chosen[reward_id] = reward
    for reward in chosen.values():
        reward.used_at = now
    return user.payload()


@handles("wallet_users_void")
def users_void(call: Call) -> dict[str, Any]:
    """Void the user's card; voiding again changes nothing."""
    card = _card(call)
    user = _user(call, card)
    if user.voided_at is None:
        card.void(user, _aware(call.now()))
    return user.payload()


@handles("wallet_users_delete")
def users_delete(call: Call) -> None:
    """Delete the user."""
    card = _card(call)
    call.state.wallet.remove_user(card, _user(call, card))


# ----------------------------------------------------------------------------- seed

_FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Louis", "Sofia", "Arthur",
    "Lina", "Jules", "Nora", "Victor", "Elena", "Adam", "Zoe", "Hugo", "Julia", "Milan",
)  # fmt: skip
_LAST_NAMES = (
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
    "Wouters", "De Smet", "Dubois", "Lambert", "Martin", "Dupont", "Leroy", "Smith",
)  # fmt: skip
_CITIES = (("Brussels", "1000"), ("Antwerp", "2000"), ("Ghent", "9000"), ("Leuven", "3000"))
_STREETS = ("Main Street", "Station Road", "Market Square", "Church Lane", "Park Avenue")
_CARDS = (
    # name, type, reward name, custom_1 values (what the card asks its users)
    ("Coffee club", "stamp", "Free coffee", ("espresso", "latte", "cappuccino", "flat white")),
    ("Membership card", "membership", "Member gift", ("bronze", "silver", "gold")),
    ("VIP", "membership", "VIP lounge pass", ("north", "south", "online")),
)


def seed(state: SandboxState, rng: random.Random, *, sessions: int) -> None:
    """Add three cards with a few dozen users each, with stamps, rewards and some voided.

    ``sessions`` (the coupon sessions count) does not size the wallet.
    """
    wallet = state.wallet
    config = state.config
    clock = SEED_EPOCH
    for name, card_type, reward_name, choices in _CARDS:
        card = wallet.new_card(name=name, type=card_type, reward_name=reward_name)
        for _ in range(rng.randint(24, 40)):
            clock += timedelta(minutes=rng.randint(5, 600))
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            city, zip_code = rng.choice(_CITIES)
            # The next user id keeps seeded emails unique without looking them up.
            handle = f"{first}.{last}".lower().replace(" ", "")
            fields: dict[str, Any] = {
                "first_name": first,
                "last_name": last,
                "email": f"{handle}{wallet.next_user_id}@example.com",
                "phone": f"+324{rng.randrange(10**8):08d}",
                "city": city,
                "zip": zip_code,
                "address": f"{rng.choice(_STREETS)} {rng.randint(1, 200)}",
                "custom_1": rng.choice(choices),
            }
            if rng.random() < 0.3:
                del fields["phone"]
            user = wallet.new_user(card, fields, clock)
            visits = rng.randint(0, 3 * max(config.stamps_per_reward, 1))
            if visits:
                stamped = clock + timedelta(days=rng.randint(1, 20))
                wallet.add_stamps(card, user, visits, stamped, config)
            for reward in user.rewards:
                if rng.random() < 0.5:
                    reward.used_at = reward.added_at + timedelta(days=rng.randint(0, 5))
            if rng.random() < 0.08:
                card.void(user, clock + timedelta(days=rng.randint(21, 40)))
