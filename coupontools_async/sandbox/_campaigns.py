"""The v3 coupon domain's state: campaigns, sessions and their indexes, the wire objects
they answer with, and the lookups every coupon, session and send handler starts with.

Sessions are indexed by code, by sequence id (globally and per campaign) and by the
values the search looks for, so every handler is a few dict lookups even with 100k
sessions; the session lists keep the filtered list of a campaign until it changes.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from .._wire import format_datetime
from ._core import Call, fail

if TYPE_CHECKING:
    pass

__all__ = [
    "Campaign",
    "CouponsState",
    "Push",
    "Send",
    "Session",
]

UTC = timezone.utc
FIRST_SEQUENCE = 19878460
"""Sequence id of an account's first session (the docs' example value)."""
CUSTOM_FIELDS = 7
_CODE_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_CODE_TABLE = bytes(ord(_CODE_ALPHABET[b % 36]) for b in range(256))
"""Digest byte → code character (the slight bias of 256 % 36 does not matter here)."""
_ALNUM_UPPER = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --------------------------------------------------------------------------- state


@attrs.define(kw_only=True, eq=False)
class Campaign:
    """A v3 coupon (campaign) and its sessions."""

    id: str
    code: str
    name: str
    title: str = ""
    subtitle: str = ""
    coupon_value: str = ""
    status: str = "active"
    """``active`` or ``inactive`` (``only_active`` of coupon/list)."""
    url: str = ""
    folder: str | None = None
    tags: tuple[str, ...] = ()
    category: str | None = None
    timezone: str = "UTC"
    expiry: datetime | None = None
    """Fixed expiry of the coupon (UTC); a session may override it."""
    flexible_expiry: timedelta | None = None
    """Validity of each session from its start (the docs' "flexible expiry date")."""
    sessions: dict[int, Session] = attrs.field(factory=dict, repr=False)
    """By sequence id, ascending (sessions are only ever appended)."""
    valcodes: dict[str, Session] = attrs.field(factory=dict, repr=False)
    """Custom validation code → session: the codes are unique per campaign."""
    version: int = attrs.field(default=0, repr=False)
    """Bumped by every change, so cached session lists know they are stale."""
    list_cache: dict[tuple[str, datetime | None, datetime | None], list[Session]] = attrs.field(
        factory=dict, repr=False
    )
    list_cache_version: int = attrs.field(default=-1, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.url:
            self.url = f"https://coupon.coupontools.com/{self.code}"

    def touch(self) -> None:
        """Mark the campaign changed (its cached lists are rebuilt on next use).

        Handlers call it; call it too after changing a session's dates or flags directly.
        """
        self.version += 1


@attrs.define(kw_only=True, eq=False)
class Session:
    """One coupon session: a visitor's copy of a coupon, with its state and data."""

    code: str
    sequence: int
    coupon: Campaign = attrs.field(repr=False)
    created_at: datetime
    opened_at: datetime | None = None
    claimed_at: datetime | None = None
    claimtype: str | None = None
    validated_at: datetime | None = None
    voided_at: datetime | None = None
    locked: bool = False
    start_at: datetime | None = None
    """Before this moment the session cannot be claimed (360 "Startdate not reached")."""
    expiry: datetime | None = None
    """Overrides the campaign's expiry (single-use ``expiry_date``, flexible expiry)."""
    saved_to_passbook: bool = False
    customid: str = ""
    custom_fields: list[str] = attrs.Factory(lambda: [""] * CUSTOM_FIELDS)
    money_spent: float | None = None
    validation_code: str | None = None
    """Custom validation code (customvalcode, autovalcode or automated codes)."""
    widget_validation_code: str = ""
    email: str | None = None
    phone: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    utm: dict[str, str] = attrs.Factory(dict)

    @property
    def campaign(self) -> str:
        """The campaign id."""
        return self.coupon.id

    @property
    def url(self) -> str:
        """The session's URL (FACTS.md: the coupon URL with ``?s=<code>``)."""
        return f"{self.coupon.url}?s={self.code}"

    @property
    def voided(self) -> bool:
        return self.voided_at is not None

    @property
    def claimed(self) -> bool:
        return self.claimed_at is not None

    @property
    def validated(self) -> bool:
        return self.validated_at is not None

    def expires_at(self) -> datetime | None:
        """The moment the session expires, or None."""
        return self.expiry if self.expiry is not None else self.coupon.expiry

    def expired(self, now: datetime) -> bool:
        expiry = self.expires_at()
        return expiry is not None and expiry <= now


@attrs.define(kw_only=True)
class Send:
    """One coupon or loyalty card sent by send/email or send/sms."""

    channel: str
    """``email`` or ``sms``."""
    to: str
    campaign: str | None = None
    loyaltycard: str | None = None
    couponsession: str | None = None
    subject: str | None = None
    body: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    sent_at: datetime


@attrs.define(kw_only=True)
class Push:
    """One push notification sent to wallet users of a coupon."""

    campaign: str
    message: str
    recipients: tuple[str, ...]
    """Codes of the sessions whose wallet pass received it."""
    sent_at: datetime


def _index_add(index: dict[str, list[Session]], key: str | None, session: Session) -> None:
    if key:
        index.setdefault(key, []).append(session)


def _index_remove(index: dict[str, list[Session]], key: str | None, session: Session) -> None:
    if not key:
        return
    found = index.get(key)
    if found is None:
        return
    found[:] = [s for s in found if s is not session]
    if not found:
        del index[key]


@attrs.define(kw_only=True)
class CouponsState:
    """Coupons, sessions and what was sent. Tests may read and arrange it directly."""

    campaigns: dict[str, Campaign] = attrs.Factory(dict)
    folders: dict[str, str] = attrs.Factory(dict)
    """Folder id → name (coupon/list ``folder``; an unknown one is error 515)."""
    categories: dict[str, str] = attrs.Factory(dict)
    """Category id (cat_...) → name."""
    sessions: dict[str, Session] = attrs.field(factory=dict, repr=False)
    """Every session by its code."""
    by_sequence: dict[int, Session] = attrs.field(factory=dict, repr=False)
    by_valcode: dict[str, list[Session]] = attrs.field(factory=dict, repr=False)
    by_email: dict[str, list[Session]] = attrs.field(factory=dict, repr=False)
    by_phone: dict[str, list[Session]] = attrs.field(factory=dict, repr=False)
    by_customid: dict[str, list[Session]] = attrs.field(factory=dict, repr=False)
    email_connected: bool = True
    """An email marketing platform is connected (else send/email fails with 104)."""
    sms_connected: bool = True
    """An SMS platform is connected (else send/sms fails with 103)."""
    sends: list[Send] = attrs.Factory(list)
    pushes: list[Push] = attrs.Factory(list)
    next_sequence: int = FIRST_SEQUENCE
    code_counter: int = 0
    salt: str = ""
    """Mixed into session codes, so different seeds give different codes."""
    rng: random.Random = attrs.field(factory=lambda: random.Random(0), repr=False)
    """Validation codes and widget codes (reseeded by ``seed``)."""

    # -------------------------------------------------------------- arranging

    def add_campaign(
        self, campaign_id: str | None = None, *, code: str | None = None, **fields: Any
    ) -> Campaign:
        """Add a coupon (``cam_1000001``, ``cam_1000002``... unless an id is given)."""
        if campaign_id is None:
            campaign_id = f"cam_{1000001 + len(self.campaigns)}"
            while campaign_id in self.campaigns:
                campaign_id = f"cam_{int(campaign_id[4:]) + 1}"
        if code is None:
            code = hashlib.blake2b(campaign_id.encode(), digest_size=4).hexdigest()[:6]
        fields.setdefault("name", campaign_id)
        campaign = Campaign(id=campaign_id, code=code, **fields)
        self.campaigns[campaign_id] = campaign
        return campaign

    def new_code(self) -> str:
        """A fresh session code: 21 lowercase letters and digits, from a counter."""
        while True:
            self.code_counter += 1
            digest = hashlib.blake2b(
                f"{self.salt}:{self.code_counter}".encode(), digest_size=21
            ).digest()
            code = digest.translate(_CODE_TABLE).decode()
            if code not in self.sessions:
                return code

    def add_session(
        self, campaign: Campaign | str, *, created_at: datetime, **fields: Any
    ) -> Session:
        """Create a session of this campaign with the next sequence id, and index it."""
        coupon = campaign if isinstance(campaign, Campaign) else self.campaigns[campaign]
        fields.setdefault("widget_validation_code", f"{int(self.rng.random() * 10000):04d}")
        session = Session(
            code=self.new_code(),
            sequence=self.next_sequence,
            coupon=coupon,
            created_at=created_at,
            **fields,
        )
        self.next_sequence += 1
        self._register(session)
        return session

    def _register(self, session: Session) -> None:
        coupon = session.coupon
        self.sessions[session.code] = session
        self.by_sequence[session.sequence] = session
        coupon.sessions[session.sequence] = session
        if session.validation_code:
            coupon.valcodes[session.validation_code] = session
            _index_add(self.by_valcode, session.validation_code, session)
        _index_add(self.by_email, session.email, session)
        _index_add(self.by_phone, session.phone, session)
        _index_add(self.by_customid, session.customid, session)
        coupon.touch()

    def remove_session(self, session: Session) -> None:
        """Delete a session and every index entry of it."""
        coupon = session.coupon
        del self.sessions[session.code]
        del self.by_sequence[session.sequence]
        del coupon.sessions[session.sequence]
        if session.validation_code:
            coupon.valcodes.pop(session.validation_code, None)
            _index_remove(self.by_valcode, session.validation_code, session)
        _index_remove(self.by_email, session.email, session)
        _index_remove(self.by_phone, session.phone, session)
        _index_remove(self.by_customid, session.customid, session)
        coupon.touch()

    def set_customid(self, session: Session, customid: str) -> None:
        """Change a session's custom id, keeping the duplicate_check index right."""
        _index_remove(self.by_customid, session.customid, session)
        session.customid = customid
        _index_add(self.by_customid, customid, session)

    def set_email(self, session: Session, email: str) -> None:
        """Give a session an email address (search and duplicate_check see it)."""
        _index_remove(self.by_email, session.email, session)
        session.email = email
        _index_add(self.by_email, email, session)

    def set_phone(self, session: Session, phone: str) -> None:
        """Give a session a phone number (search and duplicate_check see it)."""
        _index_remove(self.by_phone, session.phone, session)
        session.phone = phone
        _index_add(self.by_phone, phone, session)

    def passbook_sessions(self, campaign: Campaign) -> list[Session]:
        """The campaign's sessions saved to a mobile wallet."""
        return [s for s in campaign.sessions.values() if s.saved_to_passbook]


# ------------------------------------------------------------------- payloads


def _fmt(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment)


def coupon_payload(campaign: Campaign) -> dict[str, Any]:
    """A campaign as the Coupon schema has it."""
    return {
        "ID": campaign.id,
        "code": campaign.code,
        "name": campaign.name,
        "title": campaign.title,
        "status": campaign.status,
        "url": campaign.url,
    }


def status_payload(session: Session) -> dict[str, Any]:
    """A session's CouponSessionStatus wire object."""
    return {
        "created_date_utc": _fmt(session.created_at),
        "opened": session.opened_at is not None,
        "open_date_utc": _fmt(session.opened_at),
        "played": False,
        "played_date_utc": None,
        "claimed": session.claimed_at is not None,
        "claim_date_utc": _fmt(session.claimed_at),
        "claimtype": session.claimtype,
        "validated": session.validated_at is not None,
        "validation_date_utc": _fmt(session.validated_at),
        "validation_value": None,
        "value": None,
        "voided": session.voided_at is not None,
        "voided_date_utc": _fmt(session.voided_at),
        "locked": session.locked,
        "saved_to_passbook": session.saved_to_passbook,
        "own_validation_code": session.validation_code,
    }


def session_payload(session: Session) -> dict[str, Any]:
    """A session as the list items carry it: ``status`` at the top level (FACTS.md evidence)."""
    return {
        "session": session.code,
        "session_url": session.url,
        "sequenceid": session.sequence,
        "customid": session.customid,
        "status": status_payload(session),
    }


def _flag(value: bool) -> str:
    return "1" if value else "0"


def event_payload(session: Session) -> dict[str, Any]:
    """A CouponEvent body (without id, datetime and type, which ``emit`` adds).

    Strings throughout, as api-docs 003 prints it: flags "0"/"1", no date is "".
    """
    coupon = session.coupon
    fields = session.custom_fields
    return {
        "livemode": "0",
        "coupon_code": session.code,
        "session": session.code,
        "campaign": coupon.id,
        "coupon_url": session.url,
        "coupon": {
            "coupon_code": coupon.code,
            "friendly_name": coupon.name,
            "title": coupon.title,
            "subtitle": coupon.subtitle,
            "tags": ",".join(coupon.tags),
            "coupon_value": coupon.coupon_value,
            "custom_validation_code": session.validation_code or "",
            "customid": session.customid,
            "timezone": coupon.timezone,
        },
        "status": {
            "social_login": "0",
            "scratched": "0",
            "scratched_date": "",
            "claimed": _flag(session.claimed),
            "claimed_date": _fmt(session.claimed_at) or "",
            "claimed_type": session.claimtype or "",
            "validated": _flag(session.validated),
            "validated_date": _fmt(session.validated_at) or "",
        },
        "customer": {
            "gender": "",
            "first_name": session.firstname or "",
            "last_name": session.lastname or "",
            "email": session.email or "",
            "phone": session.phone or "",
            "address": "",
            "zip": "",
            "city": "",
            "birthday": "",
            **{f"custom_field_{i + 1}": fields[i] for i in range(CUSTOM_FIELDS)},
            "question_1": "",
        },
    }


# ------------------------------------------------------------------- helpers


def _campaign(call: Call, *, code: int = 502, message: str = "Campaign ID not found") -> Campaign:
    campaign_id = call.required("campaign")
    campaign = call.state.coupons.campaigns.get(campaign_id)
    if campaign is None:
        fail(code, message)
    return campaign


def _session(call: Call, *, code: int, message: str = "Coupon session not found") -> Session:
    session_code = call.required("couponsession")
    session = call.state.coupons.sessions.get(session_code)
    if session is None:
        fail(code, message)
    return session


def _custom_fields(call: Call) -> dict[int, str]:
    """customfield1-7 given in the body, by index 0-6."""
    given: dict[int, str] = {}
    for i in range(CUSTOM_FIELDS):
        value = call.arg(f"customfield{i + 1}")
        if value is not None:
            given[i] = str(value)
    return given


def _new_session_fields(campaign: Campaign, now: datetime) -> dict[str, Any]:
    """Start and expiry of a session created now: a flexible expiry counts from creation."""
    if campaign.flexible_expiry is None:
        return {}
    return {"start_at": now, "expiry": now + campaign.flexible_expiry}
