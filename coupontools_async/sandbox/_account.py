"""State and seed data of subaccounts (``/v4/subaccount*``) and directories (v3).

Their handlers are in ``_subaccounts`` and ``_directories``.

Payloads use the wire names of the spec's ``Subaccount*``, ``Directory*`` and
``Category*`` schemas. Almost none of these answers is documented (FACTS.md names the
endpoints and a few errors); the choices are said in a comment next to the code.
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from ._wire_helpers import code as _code
from ._wire_helpers import ts as _ts

if TYPE_CHECKING:
    from ._state import SandboxState

__all__ = [
    "AccountState",
    "Category",
    "Directory",
    "DirectoryUser",
    "Subaccount",
    "seed",
]

_DIRECTORY_NOT_FOUND = "Directory ID not found"
_SUBACCOUNT_NOT_FOUND = "Subaccount not found"
_SEED_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


# ------------------------------------------------------------------------ subaccounts


@attrs.define(kw_only=True)
class Subaccount:
    """A subaccount of the agency account (``sub_...``)."""

    id: str = ""
    email: str = ""
    password_sha256: str | None = None
    """None: created without a password, so the subaccount got the configuration email."""
    package: str = ""
    status: str = "customer"
    first_name: str = ""
    last_name: str = ""
    country: str = ""
    company_name: str = ""
    expiry_date: str | None = None
    language: str = "en"
    currency: str = "EUR"
    lastlogin: datetime | None = None
    amountlogin: int = 0
    max_campaigns: int = 10
    campaigns: list[dict[str, str]] = attrs.Factory(list)
    """``SubaccountCampaign`` wire objects (``ID``, ``code``, ``url``, ``status``)."""
    api_key: str = ""
    api_secret: str = ""
    webhook_endpoint: str = ""
    access_dashboard: bool = True
    access_directory: bool = False
    created_at: datetime = _SEED_EPOCH

    def payload(self) -> dict[str, Any]:
        """The ``Subaccount`` wire object."""
        return {
            "ID": self.id,
            "email": self.email,
            # The public example has a username; we make it the email, the login there.
            "username": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company_name": self.company_name,
            "country": self.country,
            "status": self.status,
            "package": self.package,
            "language": self.language,
            "currency": self.currency,
            "lastlogin": _ts(self.lastlogin),
            "amountlogin": self.amountlogin,
            "max_campaigns": self.max_campaigns,
            "has_campaigns": len(self.campaigns),
            "expiry_date": self.expiry_date,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "webhook_endpoint": self.webhook_endpoint,
            "access_dashboard": self.access_dashboard,
            "access_directory": self.access_directory,
            "campaigns": [dict(c) for c in self.campaigns],
        }


# ------------------------------------------------------------------------ directories


@attrs.define(kw_only=True)
class DirectoryUser:
    """A user registered in a directory (``reg_...``)."""

    id: str = ""
    first_name: str = ""
    last_name: str = ""
    birthday: str | None = None
    email: str = ""
    phone: str = ""
    created_at: datetime = _SEED_EPOCH
    payment_status: str = "unpaid"
    address: str = ""
    zip: str = ""
    city: str = ""
    custom: tuple[str, str, str] = ("", "", "")
    password_sha256: str = ""
    blocked: bool = False
    access_expires_at: str | None = None
    """Paid access end (``yyyy-MM-dd HH:mm:ss`` UTC), or None when it does not end."""

    @property
    def number(self) -> int:
        """The v4 numeric id: the digits of the v3 id (``reg_5025`` is 5025)."""
        return int(self.id.removeprefix("reg_"))

    def v4_payload(self) -> dict[str, Any]:
        """The ``DirectoryV4User`` wire object (plain JSON, numeric id)."""
        return {
            "id": self.number,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "birth_date": self.birthday,
            "address": self.address,
            "zip": self.zip,
            "city": self.city,
            "custom_1": self.custom[0],
            "custom_2": self.custom[1],
            "custom_3": self.custom[2],
            "blocked": self.blocked,
            "paid_access": self.payment_status == "paid",
            "access_expires_at": self.access_expires_at,
            "created_at": _ts(self.created_at),
        }

    def payload(self) -> dict[str, Any]:
        """The ``DirectoryUser`` wire object."""
        return {
            "ID": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "birthday": self.birthday,
            "email": self.email,
            "phone": self.phone,
            "created_at": _ts(self.created_at),
            "payment_status": self.payment_status,
        }


@attrs.define(kw_only=True)
class Directory:
    """A directory (``dir_...``, numeric in v4: ``dir_12345`` is 12345) and its users."""

    id: str = ""
    code: str = ""
    name: str = ""
    status: str = "active"
    users: dict[str, DirectoryUser] = attrs.Factory(dict)
    """Registered users by id, oldest registration first."""
    order: list[str] = attrs.Factory(list)
    """User ids, oldest registration first (pages are cut from its end)."""

    @property
    def url(self) -> str:
        """The directory's public URL (not documented; shaped like the coupon URLs)."""
        return f"https://www.digicpn.com/d/{self.code}"

    @property
    def number(self) -> int:
        """The v4 numeric id: the digits of the v3 id (one directory, two spellings)."""
        return int(self.id.removeprefix("dir_"))

    def v4_payload(self) -> dict[str, Any]:
        """The ``DirectoryV4`` wire object (plain JSON, numeric id)."""
        return {"id": self.number, "name": self.name, "url": self.url, "created_at": None}

    def payload(self) -> dict[str, Any]:
        """The ``Directory`` wire object."""
        return {
            "ID": self.id,
            "code": self.code,
            "name": self.name,
            "url": self.url,
            "status": self.status,
        }

    def register(self, user: DirectoryUser) -> DirectoryUser:
        """Add a newly registered user (the newest)."""
        self.users[user.id] = user
        self.order.append(user.id)
        return user


@attrs.define(kw_only=True)
class Category:
    """A directory category (``cat_...``), at level 1, 2 or 3."""

    id: str = ""
    name: str = ""
    parent: str | None = None
    level: int = 1

    def payload(self) -> dict[str, Any]:
        """The ``Category`` wire object (``parent`` answered "" for a top category)."""
        return {"ID": self.id, "name": self.name, "parent": self.parent}


@attrs.define(kw_only=True)
class AccountState:
    """Subaccounts, teammates, directories with their users, and categories."""

    subaccounts: dict[str, Subaccount] = attrs.Factory(dict)
    subaccount_by_email: dict[str, str] = attrs.Factory(dict)
    """Lowercased email → subaccount id: an email is unique (304)."""
    reset_urls: dict[str, str] = attrs.Factory(dict)
    """Password reset token → subaccount id, every one handed out."""
    sso_tokens: dict[str, str] = attrs.Factory(dict)
    """Single sign on token → subaccount id, every one handed out."""
    directories: dict[str, Directory] = attrs.Factory(dict)
    categories: dict[str, Category] = attrs.Factory(dict)
    teammates: dict[int, str] = attrs.Factory(dict)
    """Teammate id (numeric) → email."""
    account_sso_tokens: list[str] = attrs.Factory(list)
    """Every account single sign on token handed out (account/sso)."""
    teammate_sso_tokens: dict[str, int] = attrs.Factory(dict)
    """Teammate single sign on token → teammate id."""
    directory_sso_tokens: dict[str, int] = attrs.Factory(dict)
    """v4 directory user one-time token → user id."""
    app_url: str = "https://app.coupontools.com"
    whitelabel_url: str = "https://coupons.example.com"
    """The agency's white label domain (``url_whitelabel`` of subaccount/sso)."""
    next_subaccount: int = 3427
    next_directory: int = 12345
    next_registration: int = 5025
    next_category: int = 100
    next_campaign: int = 1026090
    tokens: random.Random = attrs.field(factory=lambda: random.Random(0), repr=False, eq=False)
    """Source of tokens and generated API keys: fresh on every call, the same run after run."""

    def token(self) -> str:
        """A fresh 32-character token."""
        return f"{self.tokens.getrandbits(128):032x}"

    def add_subaccount(self, sub: Subaccount) -> Subaccount:
        """Store ``sub`` under the next id, with generated API credentials."""
        sub.id = f"sub_{self.next_subaccount}"
        self.next_subaccount += 1
        sub.api_key = sub.api_key or f"ak_{self.token()[:20]}"
        sub.api_secret = sub.api_secret or f"as_{self.token()}"
        self.subaccounts[sub.id] = sub
        self.subaccount_by_email[sub.email.lower()] = sub.id
        return sub

    def add_directory(self, name: str, *, status: str = "active") -> Directory:
        """A new directory with the next id."""
        directory_id = f"dir_{self.next_directory}"
        self.next_directory += 1
        directory = Directory(
            id=directory_id, code=_code(directory_id, 6), name=name, status=status
        )
        self.directories[directory_id] = directory
        return directory

    def add_campaign(self, name: str, *, status: str = "active") -> dict[str, str]:
        """A campaign wire object with the next ``cam_`` id (for directories, subaccounts)."""
        campaign_id = f"cam_{self.next_campaign}"
        self.next_campaign += 1
        code = _code(campaign_id, 6)
        return {
            "ID": campaign_id,
            "code": code,
            "name": name,
            "url": f"https://www.digicpn.com/p/{code}",
            "status": status,
        }

    def new_user(self) -> str:
        """The next ``reg_`` id."""
        user_id = f"reg_{self.next_registration}"
        self.next_registration += 1
        return user_id

    def add_category(self, name: str, parent: Category | None = None) -> Category:
        """A new category under ``parent`` (a top category without)."""
        category = Category(
            id=f"cat_{self.next_category}",
            name=name,
            parent=parent.id if parent else None,
            level=parent.level + 1 if parent else 1,
        )
        self.next_category += 1
        self.categories[category.id] = category
        return category


# ------------------------------------------------------------------------------ seed

_FIRST = ("John", "Jane", "Emma", "Liam", "Olivia", "Noah", "Lena", "Marc", "Nora", "Tom")
_LAST = ("Doe", "Peeters", "Janssens", "Smith", "Garcia", "Martin", "Dubois", "Claes")
_COMPANIES = ("Pizza Palace", "Burger Barn", "Café Central", "Wash & Go", "Book Nook")
_CATEGORY_TREE: dict[str, dict[str, tuple[str, ...]]] = {
    "Food & drinks": {
        "Restaurants": ("Pizza", "Burgers", "Sushi"),
        "Bars & cafés": ("Coffee", "Cocktails"),
    },
    "Shopping": {
        "Fashion": ("Shoes", "Accessories"),
        "Home": ("Furniture", "Garden"),
    },
    "Services": {
        "Car": ("Car wash", "Repairs"),
        "Beauty": ("Hairdresser",),
    },
}


def seed(state: SandboxState, rng: random.Random, *, sessions: int) -> None:
    """Five subaccounts, three directories (a few hundred registered users, one empty
    directory) and a three-level category tree. Deterministic for a given ``rng``;
    ``sessions`` (coupon sessions) does not apply here."""
    del sessions
    account = state.account
    account.tokens.seed(rng.getrandbits(64))
    for n, company in enumerate(_COMPANIES):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        sub = account.add_subaccount(
            Subaccount(
                email=f"{first}.{last}.{n}@example.com".lower(),
                package=f"pac_{rng.randrange(100, 104)}",
                status=rng.choice(("trial", "customer", "customer")),
                first_name=first,
                last_name=last,
                country=rng.choice(("BE", "NL", "FR", "US")),
                company_name=company,
                expiry_date=(
                    _SEED_EPOCH.date() + timedelta(days=rng.randrange(30, 730))
                ).isoformat(),
                lastlogin=_SEED_EPOCH + timedelta(minutes=rng.randrange(500_000)),
                amountlogin=rng.randrange(1, 300),
                max_campaigns=rng.choice((5, 10, 25)),
                access_directory=rng.random() < 0.5,
                created_at=_SEED_EPOCH - timedelta(days=rng.randrange(1, 400)),
            )
        )
        for _ in range(rng.randrange(0, 4)):
            campaign = account.add_campaign(f"{company} offer")
            del campaign["name"]  # SubaccountCampaign has no name
            sub.campaigns.append(campaign)

    for name, users in (("City deals", 237), ("Student perks", 64), ("Spring market", 0)):
        directory = account.add_directory(name, status="active" if users else "draft")
        moment = _SEED_EPOCH
        for _ in range(users):
            moment += timedelta(minutes=rng.randrange(1, 2000))
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            user_id = account.new_user()
            born = _SEED_EPOCH.date() - timedelta(days=rng.randrange(16 * 365, 80 * 365))
            directory.register(
                DirectoryUser(
                    id=user_id,
                    first_name=first,
                    last_name=last,
                    birthday=born.isoformat(),
                    email=f"{first}.{last}.{user_id}@example.com".lower(),
                    phone="+324" + "".join(rng.choice(string.digits) for _ in range(8)),
                    created_at=moment,
                    payment_status=rng.choice(("paid", "unpaid")),
                )
            )

    # Teammates use no randomness, so adding them left the rest of the seed unchanged.
    for number, name in enumerate(("anna", "bert", "carla"), start=101):
        account.teammates[number] = f"{name}@agency.example.com"

    for top_name, middles in _CATEGORY_TREE.items():
        top = account.add_category(top_name)
        for middle_name, leaves in middles.items():
            middle = account.add_category(middle_name, top)
            for leaf in leaves:
                account.add_category(leaf, middle)
