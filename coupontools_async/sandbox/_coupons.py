"""Coupons, coupon sessions, single-use URLs, distribution and coupon pushes (v3).

The session state machine follows api-docs 004 (couponsession/update and batch/update),
with its exact error codes and texts. Where the docs are silent, the choice is said in a
comment next to it.

Sessions are indexed by code, by sequence id (globally and per campaign) and by the
values the search looks for, so every handler is a few dict lookups even with 100k
sessions; the session lists keep the filtered list of a campaign until it changes.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ._core import Call, fail, handles

if TYPE_CHECKING:
    from ._state import SandboxState

__all__ = [
    "Campaign",
    "CouponsState",
    "Push",
    "Send",
    "Session",
    "seed",
]

UTC = timezone.utc
FIRST_SEQUENCE = 19878460
"""Sequence id of an account's first session (the docs' example value)."""
CUSTOM_FIELDS = 7
_CODE_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_CODE_TABLE = bytes(ord(_CODE_ALPHABET[b % 36]) for b in range(256))
"""Digest byte → code character (the slight bias of 256 % 36 does not matter here)."""
_ALNUM_UPPER = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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
    # isoformat is twice as fast as strftime, and lists format five dates per session.
    return None if moment is None else moment.isoformat(" ", "seconds")[:19]


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
    campaign_id = call.arg("campaign")
    if campaign_id is None:
        fail(200, "Missing parameter: campaign")
    campaign = call.state.coupons.campaigns.get(campaign_id)
    if campaign is None:
        fail(code, message)
    return campaign


def _session(call: Call, *, code: int, message: str = "Coupon session not found") -> Session:
    session_code = call.arg("couponsession")
    if session_code is None:
        fail(200, "Missing parameter: couponsession")
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


# ----------------------------------------------------------------- coupons


@handles("coupons_list")
def coupons_list(call: Call) -> dict[str, Any]:
    """coupon/list: every coupon, filtered by only_active, folder, tags and category."""
    state = call.state.coupons
    folder = call.arg("folder")
    if folder is not None and folder not in state.folders:
        fail(515, "Folder not found")
    only_active = call.arg("only_active", False)
    category = call.arg("category")
    # "Comma separated for each new tag": we read several tags as "any of them", the
    # usual meaning of a tag filter; the docs do not say any or all.
    tags = {t.strip().lower() for t in str(call.arg("tags", "")).split(",") if t.strip()}
    found = []
    for campaign in state.campaigns.values():
        if only_active and campaign.status != "active":
            continue
        if folder is not None and campaign.folder != folder:
            continue
        if category is not None and campaign.category != category:
            continue
        if tags and not tags.intersection(t.lower() for t in campaign.tags):
            continue
        found.append(coupon_payload(campaign))
    return {"coupon_info": found}


@handles("coupons_get")
def coupons_get(call: Call) -> dict[str, Any]:
    """coupon/info: one coupon; show_usage_stats adds the custom validation code counts."""
    campaign = _campaign(call)
    info = coupon_payload(campaign)
    if call.arg("show_usage_stats", False):
        info["total_custom_codes"] = len(campaign.valcodes)
        info["claimed_custom_codes"] = sum(1 for s in campaign.valcodes.values() if s.claimed)
    return {"coupon_info": info}


@handles("coupons_push_all")
def coupons_push_all(call: Call) -> dict[str, Any]:
    """coupon/pushnotification/list: push to every wallet pass of the coupon."""
    # The docs give 505 (not 502) for an unknown campaign on this endpoint.
    campaign = _campaign(call, code=505)
    state = call.state.coupons
    saved = state.passbook_sessions(campaign)
    if not saved:
        fail(507, "0 users have saved the campaign")
    state.pushes.append(
        Push(
            campaign=campaign.id,
            message=str(call.arg("message", "")),
            recipients=tuple(s.code for s in saved),
            sent_at=call.now(),
        )
    )
    return {"campaign": campaign.id, "action": "push_notification_sent"}


@handles("coupons_push_one")
def coupons_push_one(call: Call) -> dict[str, Any]:
    """coupon/pushnotification/single: push to the wallet pass of one session."""
    # Only 505 is documented (FACTS.md); we answer it for an unknown campaign too, with the
    # list variant's text.
    campaign = _campaign(call, code=505)
    session = _session(call, code=505, message="Couponsession not found")
    if session.coupon is not campaign:
        fail(505, "Couponsession not found")
    if not session.saved_to_passbook:
        # Undocumented: the pass is not in a wallet, so there is nobody to notify; we answer
        # the list variant's 507 "Error sending push notification".
        fail(507, "Error sending push notification")
    call.state.coupons.pushes.append(
        Push(
            campaign=campaign.id,
            message=str(call.arg("message", "")),
            recipients=(session.code,),
            sent_at=call.now(),
        )
    )
    return {
        "campaign": campaign.id,
        "couponsession": session.code,
        "action": "push_notification_sent",
    }


# ------------------------------------------------------------ session lists


def _bound(call: Call, name: str, *, end: bool) -> datetime | None:
    text = call.arg(name)
    if text is None:
        return None
    try:
        if len(text) == 10:
            moment = datetime.strptime(text, "%Y-%m-%d")
            step = timedelta(days=1)
        else:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M")
            step = timedelta(minutes=1)
    except (TypeError, ValueError):
        fail(
            303,
            f"Parameter {name} must be in the following format: yyyy-MM-dd hh:mm or yyyy-MM-dd",
        )
    # Inclusive bounds: an end date covers its whole day (or minute).
    if end:
        moment += step - timedelta(microseconds=1)
    return moment.replace(tzinfo=UTC)


_LIST_MOMENT: dict[str, Callable[[Session], datetime | None]] = {
    # Each list filters by the date of the event it lists (the docs only say "date of the
    # sessions"): created for all sessions, opened for opens, and so on.
    "all": lambda s: s.created_at,
    "opened": lambda s: s.opened_at,
    "claimed": lambda s: s.claimed_at,
    "validated": lambda s: s.validated_at,
}


def _listed(
    campaign: Campaign, kind: str, start: datetime | None, end: datetime | None
) -> list[Session]:
    """The campaign's sessions of one list, by sequence id; cached until the campaign changes."""
    if campaign.list_cache_version != campaign.version:
        campaign.list_cache.clear()
        campaign.list_cache_version = campaign.version
    key = (kind, start, end)
    found = campaign.list_cache.get(key)
    if found is not None:
        return found
    moment = _LIST_MOMENT[kind]
    if kind == "all" and start is None and end is None:
        found = list(campaign.sessions.values())
    else:
        found = []
        for session in campaign.sessions.values():
            at = moment(session)
            if at is None or (start is not None and at < start) or (end is not None and at > end):
                continue
            found.append(session)
    if len(campaign.list_cache) >= 16:
        campaign.list_cache.clear()
    campaign.list_cache[key] = found
    return found


def _list(call: Call, kind: str) -> dict[str, Any]:
    campaign = _campaign(call)
    page = call.arg("page", 1)
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        fail(301, "Invalid character in parameter: page")
    start = _bound(call, "start_date", end=False)
    end = _bound(call, "end_date", end=True)
    sessions = _listed(campaign, kind, start, end)
    size = call.state.config.session_page_size
    chunk = sessions[(page - 1) * size : page * size]
    # As the evidence shows it: a count as a string (stringified), and no data when empty.
    if not chunk:
        return {"amount_of_results": 0}
    return {"amount_of_results": len(chunk), "data": [session_payload(s) for s in chunk]}


@handles("sessions_list_all")
def sessions_list_all(call: Call) -> dict[str, Any]:
    """campaign/data: one page of every session of the coupon."""
    return _list(call, "all")


@handles("sessions_list_opened")
def sessions_list_opened(call: Call) -> dict[str, Any]:
    """campaign/opens: one page of the opened sessions."""
    return _list(call, "opened")


@handles("sessions_list_claimed")
def sessions_list_claimed(call: Call) -> dict[str, Any]:
    """campaign/claims: one page of the claimed sessions."""
    return _list(call, "claimed")


@handles("sessions_list_validated")
def sessions_list_validated(call: Call) -> dict[str, Any]:
    """campaign/validations: one page of the validated sessions."""
    return _list(call, "validated")


@handles("sessions_get")
def sessions_get(call: Call) -> dict[str, Any]:
    """couponsession/data: one session (513 when unknown)."""
    session = _session(call, code=513)
    # Only this single-session answer nests the status under data (FACTS.md evidence).
    return {
        "campaign": session.campaign,
        "action": "session_data",
        "session": session.code,
        "session_url": session.url,
        "sequenceid": session.sequence,
        "customid": session.customid,
        "data": {"status": status_payload(session)},
    }


# ----------------------------------------------------------- state machine

# Why an operation cannot apply, as a key into the two tables of texts below: one
# session (couponsession/update) and a range of them (batch/update) word it differently.
_SINGLE: dict[str, tuple[int, str]] = {
    "expired": (351, "Session or coupon has expired"),
    "not_started": (360, "Startdate not reached"),
    "void_voided": (355, "Session was already voided"),
    "unvoid_not_voided": (357, "Session wasn't voided"),
    "lock_voided": (355, "Session could not be locked because it is voided"),
    "lock_validated": (358, "Session could not be locked because it is already validated"),
    "lock_unclaimed": (352, "Session could not be locked because it is not claimed"),
    "lock_locked": (354, "Session already was locked before"),
    "unlock_voided": (355, "Session could not be unlocked because it is voided"),
    "unlock_unlocked": (356, "Session was already unlocked"),
    "use_voided": (355, "This coupon is voided"),
    "use_locked": (354, "This coupon is locked"),
    "claim_claimed": (352, "Session already was claimed before"),
    "validate_validated": (358, "This session was already validated"),
    "unvalidate_unvalidated": (353, "Session was already unvalidated"),
}
_BATCH: dict[str, tuple[int, str]] = {
    "expired": (351, "Some session(s) are expired"),
    "not_started": (360, "Startdate not reached"),
    "void_voided": (355, "Some session(s) were already voided"),
    "unvoid_not_voided": (357, "Some session(s) weren't voided"),
    # The docs give no batch text for locking or unlocking voided sessions; "were already
    # voided" is the batch 355 text that fits.
    "lock_voided": (355, "Some session(s) were already voided"),
    "lock_validated": (358, "Some session(s) were already validated"),
    # Single update answers 352 for this, batch/update 359 (api-docs 004).
    "lock_unclaimed": (359, "Some session(s) weren't claimed"),
    "lock_locked": (354, "Some session(s) were already locked"),
    "unlock_voided": (355, "Some session(s) were already voided"),
    "unlock_unlocked": (356, "Some session(s) weren't locked"),
    "use_voided": (355, "Some session(s) could not be claimed because they're voided"),
    "use_locked": (354, "Some session(s) were already locked"),
    "claim_claimed": (352, "Some session(s) were already claimed"),
}
"""batch/update has no validate or unvalidate (api-docs 004), so no texts for them."""


def blocker(session: Session, operation: str, now: datetime) -> str | None:
    """Why ``operation`` cannot apply to the session now (a key of the error tables), or None.

    The checks run in the order api-docs 004 lists them per operation.
    """
    if operation == "void":
        return "void_voided" if session.voided_at is not None else None
    if operation == "unvoid":
        return "unvoid_not_voided" if session.voided_at is None else None
    if operation == "lock":
        if session.voided_at is not None:
            return "lock_voided"
        if session.validated_at is not None:
            return "lock_validated"
        if session.claimed_at is None:
            return "lock_unclaimed"
        return "lock_locked" if session.locked else None
    if operation == "unlock":
        if session.voided_at is not None:
            return "unlock_voided"
        return None if session.locked else "unlock_unlocked"
    if operation in ("claim", "validate"):
        if session.expired(now):
            return "expired"
        if session.voided_at is not None:
            return "use_voided"
        if session.locked:
            return "use_locked"
        if operation == "claim" and session.claimed_at is not None:
            return "claim_claimed"
        if operation == "validate" and session.validated_at is not None:
            return "validate_validated"
        # 360 is documented for batch/update only; a single claim or validate of a session
        # whose start date lies ahead is refused the same way (the docs list no code).
        if session.start_at is not None and session.start_at > now:
            return "not_started"
        return None
    if operation == "unvalidate":
        return None if session.validated_at is not None else "unvalidate_unvalidated"
    return None  # activate: always possible


def apply(call: Call, session: Session, operation: str, now: datetime) -> None:
    """Apply an operation ``blocker`` allowed, emitting the webhook events it causes."""
    if operation == "void":
        session.voided_at = now
    elif operation == "unvoid":
        session.voided_at = None
    elif operation == "lock":
        session.locked = True
    elif operation == "unlock":
        session.locked = False
    elif operation in ("claim", "validate"):
        if session.claimed_at is None:
            # A claim through the API implies the coupon was shown.
            if session.opened_at is None:
                session.opened_at = now
            session.claimed_at = now
            session.claimtype = "api"  # our name: the docs show "form" and "db" only
            call.emit("coupon_claimed", event_payload(session))
        if operation == "validate":
            session.validated_at = now
            call.emit("coupon_validated", event_payload(session))
    elif operation == "unvalidate":
        session.validated_at = None
    elif operation == "activate":
        session.voided_at = None
        session.start_at = now
        flexible = session.coupon.flexible_expiry
        if flexible is not None:
            session.expiry = now + flexible
    session.coupon.touch()


_ACTIONS = {
    "void": "voided",
    "unvoid": "unvoided",
    "lock": "locked",
    "unlock": "unlocked",
    "claim": "claimed",
    "validate": "validated",
    "unvalidate": "unvalidated",
    "activate": "activated",
}


@handles("sessions_update")
def sessions_update(call: Call) -> dict[str, Any]:
    """couponsession/update: one state change and/or custom data of one session."""
    session = _session(call, code=512)
    operation = call.arg("operation")
    fields = _custom_fields(call)
    customid = call.arg("customid")
    money_spent = call.arg("money_spent")
    if operation is None and not fields and customid is None and money_spent is None:
        # Undocumented for one session; we answer batch/update's text for the same case.
        fail(200, "no operation or data provided")
    now = call.now()
    # Checked before anything changes, so a refused call changes nothing (custom fields
    # sent with it included).
    if operation is not None:
        reason = blocker(session, operation, now)
        if reason is not None:
            fail(*_SINGLE[reason])
    state = call.state.coupons
    if operation is not None:
        apply(call, session, operation, now)
    for i, value in fields.items():
        session.custom_fields[i] = value
    if customid is not None:
        state.set_customid(session, str(customid))
    if money_spent is not None:
        session.money_spent = float(money_spent)
    session.coupon.touch()
    action = f"session_{_ACTIONS[operation]}" if operation is not None else "session_updated"
    return {"campaign": session.campaign, "session": session.code, "action": action}


def _sequence(call: Call, name: str) -> int | None:
    value = call.arg(name)
    if value is None:
        return None
    if isinstance(value, bool):
        fail(301, "start/endsequence must be numeric")
    try:
        return int(value)
    except (TypeError, ValueError):
        fail(301, "start/endsequence must be numeric")


def _batch_range(call: Call, campaign: Campaign) -> tuple[int, int]:
    """The inclusive sequence range of a batch/update, with the documented 502/513 checks."""
    start = _sequence(call, "startsequence")
    end = _sequence(call, "endsequence")
    if start is None and end is None:
        fail(200, "startsequence or endsequence not provided")
    by_sequence = call.state.coupons.by_sequence
    if start is not None and end is not None:
        first = by_sequence.get(start)
        if first is None:
            fail(513, "Start ID not found")
        last = by_sequence.get(end)
        if last is None:
            fail(513, "End ID not found")
        if first.coupon is not last.coupon:
            fail(502, "Provided start and end are not of the same campaign")
        if first.coupon is not campaign:
            fail(502, "Provided start and end are not of the provided campaign")
        if end < start:
            fail(513, "End ID comes before start ID")
        return start, end
    if start is not None:
        if start not in campaign.sessions:
            fail(513, "Start ID not found or not part of the campaign")
        return start, next(reversed(campaign.sessions))  # ascending: the last is the largest
    assert end is not None
    if end not in campaign.sessions:
        fail(513, "End ID not found or not part of the campaign")
    return next(iter(campaign.sessions)), end


_BATCH_OPERATIONS = ("void", "unvoid", "lock", "unlock", "claim", "activate")


@handles("sessions_update_batch")
def sessions_update_batch(call: Call) -> dict[str, Any]:
    """batch/update: one operation and/or custom fields on a sequence range, all or nothing."""
    operation = call.arg("operation")
    fields = _custom_fields(call)
    if operation is None and not fields:
        fail(200, "no operation or data provided")
    if operation is not None and operation not in _BATCH_OPERATIONS:
        fail(302, f"status invalid, valid statuses are: {', '.join(_BATCH_OPERATIONS)}")
    # Not in batch/update's list of errors; the usual v3 answer for an unknown campaign.
    campaign = _campaign(call)
    low, high = _batch_range(call, campaign)
    targets = [s for seq, s in campaign.sessions.items() if low <= seq <= high]
    now = call.now()
    if operation is not None:
        # Every session is checked before any changes: one refusal fails the whole batch.
        for session in targets:
            reason = blocker(session, operation, now)
            if reason is not None:
                fail(*_BATCH[reason])
        for session in targets:
            apply(call, session, operation, now)  # a batch claim emits one event per session
    for session in targets:
        for i, value in fields.items():
            session.custom_fields[i] = value
    campaign.touch()
    action = f"sessions_{_ACTIONS[operation]}" if operation is not None else "sessions_updated"
    return {
        "campaign": campaign.id,
        "action": action,
        "startsequence": targets[0].sequence if targets else low,
        "endsequence": targets[-1].sequence if targets else high,
    }


# ------------------------------------------------------------------ search


def _search(call: Call, campaign: Campaign | None) -> dict[str, Any]:
    state = call.state.coupons
    filters: list[tuple[dict[str, list[Session]], str]] = []
    for name, index in (
        ("code", state.by_valcode),
        ("email", state.by_email),
        ("phone", state.by_phone),
    ):
        value = call.arg(name)
        if value is not None:
            if len(str(value)) < 5:
                fail(300, f"Search field '{name}' must be at least 5 characters")
            filters.append((index, str(value)))
    if not filters:
        fail(200, "No filter defined")
    # Every given filter must match (exact values); start from the smallest candidate list.
    candidate_lists = [index.get(value, []) for index, value in filters]
    candidates = min(candidate_lists, key=len)
    others = [set(map(id, c)) for c in candidate_lists if c is not candidates]
    found = [
        s
        for s in candidates
        if (campaign is None or s.coupon is campaign) and all(id(s) in o for o in others)
    ]
    if not found:
        fail(512, "No results found")
    found.sort(key=lambda s: s.sequence)
    payload: dict[str, Any] = {"data": [session_payload(s) for s in found]}
    if campaign is not None:
        payload = {"campaign": campaign.id, **payload}
    return payload


@handles("sessions_search")
def sessions_search(call: Call) -> dict[str, Any]:
    """couponsession/search: sessions of any coupon by custom validation code, phone or email."""
    return _search(call, None)


@handles("sessions_search_in_campaign")
def sessions_search_in_campaign(call: Call) -> dict[str, Any]:
    """campaignsession/search: the same, within one coupon."""
    if call.arg("campaign") is None:
        fail(200, "No parameter campaign")
    return _search(call, _campaign(call, message="campaign not found"))


# --------------------------------------------------------- delete, barcode


@handles("sessions_delete")
def sessions_delete(call: Call) -> dict[str, Any]:
    """singleuse/remove: delete a session of the coupon."""
    campaign = _campaign(call)
    session = _session(call, code=513)
    if session.coupon is not campaign:
        fail(513, "Coupon session not found")
    call.state.coupons.remove_session(session)
    return {"campaign": campaign.id, "session": session.code, "action": "session_deleted"}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(rows: list[bytes]) -> bytes:
    """A grayscale PNG of these pixel rows (one byte per pixel, 0 black, 255 white)."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def barcode_png(text: str, kind: str) -> bytes:
    """A barcode-looking PNG of ``text``: bars for 1D types, a module grid for 2D ones.

    Not a scannable symbol: the sandbox promises real PNG bytes, not a barcode encoder.
    """
    bits = "".join(f"{byte:08b}" for byte in hashlib.sha256(f"{kind}:{text}".encode()).digest())
    if kind in ("code39", "code128b"):
        modules = "0000" + "".join(f"{ord(c):08b}" for c in text) + "0000"
        row = bytes(0 if m == "1" else 255 for m in modules for _ in range(2))
        return png([row] * 40)
    side, scale = 16, 4
    rows = []
    for y in range(side):
        row = bytes(
            0 if bits[y * side + x] == "1" else 255 for x in range(side) for _ in range(scale)
        )
        rows.extend([row] * scale)
    return png(rows)


@handles("sessions_barcode")
def sessions_barcode(call: Call) -> bytes:
    """couponsession/barcode: the barcode image of a session (PNG bytes)."""
    code = call.arg("couponsession")
    if code is None:
        fail(400, "Missing parameter: couponsession")
    kind = call.arg("type")
    if kind is None:
        fail(400, "Missing parameter: type")
    if kind not in ("code39", "code128b", "pdf417", "aztec", "qrcode"):
        fail(400, f"Unsupported type: {kind}")
    session = call.state.coupons.sessions.get(code)
    if session is None:
        fail(400, f"Couponsession {code} does not exist")
    return barcode_png(session.validation_code or session.code, kind)


# --------------------------------------------------------------- single use


def _expiry_date(text: str, campaign: Campaign) -> datetime:
    """singleuse/create ``expiry_date``, read in the campaign's timezone, as UTC."""
    try:
        zone: Any = ZoneInfo(campaign.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    try:
        moment = datetime.strptime(text, _TIME_FORMAT)
    except ValueError:
        fail(303, "Parameter expiry_date is not a valid date")
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _unique_code(
    state: CouponsState, campaign: Campaign, prefix: str, length: int, alphabet: str
) -> str:
    """A validation code not yet used in the campaign (601 when none is found)."""
    rng = state.rng
    for _ in range(200):
        code = prefix + "".join(rng.choice(alphabet) for _ in range(length))
        if code not in campaign.valcodes:
            break
    else:
        fail(601, "low on unique generated validation codes")
    return code


def _new_session_fields(campaign: Campaign, now: datetime) -> dict[str, Any]:
    """Start and expiry of a session created now: a flexible expiry counts from creation."""
    if campaign.flexible_expiry is None:
        return {}
    return {"start_at": now, "expiry": now + campaign.flexible_expiry}


@handles("single_use_create")
def single_use_create(call: Call) -> dict[str, Any]:
    """singleuse/create: a new session with prefilled data (or the duplicate found)."""
    campaign = _campaign(call)
    state = call.state.coupons
    check = call.arg("duplicate_check")
    if check is not None:
        value = call.arg(check)
        index = {"email": state.by_email, "phone": state.by_phone, "customid": state.by_customid}
        # Without a value for the checked field there is nothing to compare: create.
        if value is not None:
            for existing in index[check].get(str(value), []):
                if existing.coupon is campaign:
                    return _single_use_payload(existing)
    customvalcode = call.arg("customvalcode")
    autovalcode = call.arg("autovalcode")
    if customvalcode is not None and autovalcode is not None:
        fail(300, "Parameters customvalcode and autovalcode cannot be combined")
    validation_code: str | None = None
    if customvalcode is not None:
        if customvalcode in campaign.valcodes:
            # Undocumented: the codes are unique per coupon, and a second session with the
            # same code could not be told apart at validation.
            fail(300, "Custom validation code already exists for this campaign")
        validation_code = str(customvalcode)
    elif autovalcode is not None:
        digits = {"6digits": 6, "8digits": 8, "10digits": 10}.get(autovalcode)
        if digits is None:
            fail(302, "Invalid value in parameter: autovalcode")
        validation_code = _unique_code(state, campaign, "", digits, "0123456789")
    now = call.now()
    fields = _new_session_fields(campaign, now)
    expiry = call.arg("expiry_date")
    if expiry is not None:
        fields["expiry"] = _expiry_date(expiry, campaign)
    custom = [""] * CUSTOM_FIELDS
    for i, value in _custom_fields(call).items():
        custom[i] = value
    utm = {
        name: str(call.arg(name))
        for name in ("utm_campaign", "utm_source", "utm_medium", "utm_term", "utm_content")
        if call.arg(name) is not None
    }
    session = state.add_session(
        campaign,
        created_at=now,
        firstname=call.arg("firstname"),
        lastname=call.arg("lastname"),
        email=call.arg("email"),
        phone=call.arg("phone"),
        customid=str(call.arg("customid", "")),
        custom_fields=custom,
        validation_code=validation_code,
        utm=utm,
        **fields,
    )
    return _single_use_payload(session)


def _single_use_payload(session: Session) -> dict[str, Any]:
    return {
        "campaign": session.campaign,
        "action": "single_use_created",
        "single_use_url": session.url,
        "single_use_code": session.code,
        "widget_validation_code": session.widget_validation_code,
        "custom_validation_code": session.validation_code or "",
        "customid": session.customid,
    }


@handles("single_use_create_many")
def single_use_create_many(call: Call) -> dict[str, Any]:
    """multiplesingleuse/create: ``amount`` sessions, optionally with automated codes."""
    campaign = _campaign(call)
    state = call.state.coupons
    amount = call.arg("amount", 10)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        fail(301, "Invalid character in parameter: amount")
    status = call.arg("status", "normal")
    if status not in ("normal", "voided", "activated"):
        fail(
            302,
            'Parameter "status" has invalid value. Possible values are "normal", "voided" and "active"',
        )
    codes: list[str | None] = [None] * amount
    if call.arg("automated_codes", False):
        codes = list(_automated_codes(call, state, campaign, amount))
    now = call.now()
    fields = _new_session_fields(campaign, now)
    if status == "voided":
        fields["voided_at"] = now
    elif status == "activated":
        # "activated" sessions are started now, as operation=activate would; "normal" ones
        # keep the coupon's own start.
        fields["start_at"] = now
    data = []
    for code in codes:
        session = state.add_session(campaign, created_at=now, validation_code=code, **fields)
        data.append(
            {
                "single_use_code": session.code,
                "sequence_id": session.sequence,
                "single_use_url": session.url,
                "widget_validation_code": session.widget_validation_code,
            }
        )
    return {"campaign": campaign.id, "action": "multiple_single_use_codes_created", "data": data}


def _automated_codes(
    call: Call, state: CouponsState, campaign: Campaign, amount: int
) -> Iterable[str]:
    """``amount`` new validation codes ``prefix + code_length`` characters, unique in the campaign."""
    length = call.arg("code_length")
    if length is None:
        fail(200, "Missing parameter: code_length")
    kind = call.arg("code_type")
    if kind is None:
        fail(200, "Missing parameter: code_type")
    # The spec lets the client send 10-25 (the parameter text); the server-side check is the
    # 301 text's 3-30, so a direct call with a short length still behaves like the API.
    if not isinstance(length, int) or not 3 <= length <= 30:
        fail(301, "code length must be between 3 and 30 inclusive")
    if kind not in ("numeric", "alphanumeric"):
        fail(302, 'code_type must be "numeric" or "alphanumeric"')
    prefix = str(call.arg("code_prefix", ""))
    alphabet = "0123456789" if kind == "numeric" else _ALNUM_UPPER
    space = len(alphabet) ** length
    taken = campaign.valcodes
    if space < len(taken) + 4 * amount:
        # A small code space: count what is left exactly and draw from it.
        used = {
            c[len(prefix) :]
            for c in taken
            if c.startswith(prefix)
            and len(c) == len(prefix) + length
            and all(ch in alphabet for ch in c[len(prefix) :])
        }
        if space - len(used) < amount:
            fail(601, "low on unique generated validation codes")
        free = (_nth_code(n, alphabet, length) for n in range(space))
        pool = [c for c in free if c not in used]
        return [prefix + c for c in state.rng.sample(pool, amount)]
    # A large space: random draws rarely collide. A list keeps the order deterministic
    # (a set's order of strings changes with PYTHONHASHSEED).
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < amount:
        code = prefix + "".join(state.rng.choices(alphabet, k=length))
        if code not in taken and code not in seen:
            seen.add(code)
            chosen.append(code)
    return chosen


def _nth_code(n: int, alphabet: str, length: int) -> str:
    base = len(alphabet)
    chars = []
    for _ in range(length):
        n, digit = divmod(n, base)
        chars.append(alphabet[digit])
    return "".join(reversed(chars))


# ------------------------------------------------------------- distribution


def _send_session(call: Call, campaign: Campaign, now: datetime, **contact: Any) -> Session:
    """The session being sent: the given couponsession, or a new one."""
    code = call.arg("couponsession")
    state = call.state.coupons
    if code is None:
        return state.add_session(
            campaign, created_at=now, **contact, **_new_session_fields(campaign, now)
        )
    session = state.sessions.get(code)
    if session is None or session.coupon is not campaign:
        # api-docs 004 gives this text for send/sms; send/email lists no code for it.
        fail(513, "Statcode not found")
    return session


def _directory_id(call: Call) -> str | None:
    """The directory being sent (its ``dir_`` id travels in ``campaign``), or None."""
    campaign = call.arg("campaign")
    if not isinstance(campaign, str) or not campaign.startswith("dir_"):
        return None
    if campaign not in call.state.account.directories:
        fail(502, "Directory ID not found")
    return campaign


def _loyalty_card(call: Call, loyaltycard: str) -> None:
    """Refuse an unknown web loyalty card (cards live in the loyalty domain's state)."""
    if loyaltycard not in call.state.loyalty.cards:
        # The send docs list no code for it; 505 is what the loyalty endpoints answer.
        fail(505, "Loyalty card ID not found")


@handles("distribution_send_email")
def distribution_send_email(call: Call) -> dict[str, Any]:
    """send/email: a coupon (new or given session) or a web loyalty card, by email."""
    state = call.state.coupons
    if not state.email_connected:
        fail(
            104,
            "No Email integration has been setup in your Coupontools account. Go to "
            "'integrations' and 'Email marketing' to setup an Email provider",
        )
    email = str(call.arg("email"))
    now = call.now()
    loyaltycard = call.arg("loyaltycard")
    if loyaltycard is not None:
        _loyalty_card(call, loyaltycard)
        state.sends.append(
            Send(
                channel="email",
                to=email,
                loyaltycard=loyaltycard,
                subject=call.arg("subject"),
                sent_at=now,
            )
        )
        return {"loyaltycard": loyaltycard, "action": "email_sent"}
    directory = _directory_id(call)
    if directory is not None:
        state.sends.append(
            Send(
                channel="email",
                to=email,
                campaign=directory,
                subject=call.arg("subject"),
                sent_at=now,
            )
        )
        return {"campaign": directory, "action": "email_sent"}
    campaign = _campaign(call)
    if call.arg("check_unique", False):
        for earlier in state.sends:
            if (
                earlier.channel == "email"
                and earlier.campaign == campaign.id
                and earlier.to == email
            ):
                # "When not unique, email is not send": a success that sends nothing.
                return {
                    "campaign": campaign.id,
                    "couponsession": earlier.couponsession,
                    "action": "email_not_sent_not_unique",
                }
    firstname, lastname = call.arg("firstname"), call.arg("lastname")
    session = _send_session(
        call, campaign, now, email=email, firstname=firstname, lastname=lastname
    )
    if session.email is None:
        state.set_email(session, email)
    state.sends.append(
        Send(
            channel="email",
            to=email,
            campaign=campaign.id,
            couponsession=session.code,
            subject=call.arg("subject"),
            firstname=firstname,
            lastname=lastname,
            sent_at=now,
        )
    )
    return {"campaign": campaign.id, "couponsession": session.code, "action": "email_sent"}


@handles("distribution_send_sms")
def distribution_send_sms(call: Call) -> dict[str, Any]:
    """send/sms: a coupon (new or given session) or a web loyalty card, by text message."""
    state = call.state.coupons
    if not state.sms_connected:
        fail(
            103,
            "No SMS integration has been setup in your Coupontools account. Go to "
            "'integrations' and 'SMS marketing' to setup an SMS provider",
        )
    phone = str(call.arg("phone"))
    now = call.now()
    loyaltycard = call.arg("loyaltycard")
    if loyaltycard is not None:
        _loyalty_card(call, loyaltycard)
        state.sends.append(
            Send(
                channel="sms", to=phone, loyaltycard=loyaltycard, body=call.arg("body"), sent_at=now
            )
        )
        return {"loyaltycard": loyaltycard, "action": "sms_sent"}
    directory = _directory_id(call)
    if directory is not None:
        state.sends.append(
            Send(channel="sms", to=phone, campaign=directory, body=call.arg("body"), sent_at=now)
        )
        url = call.state.account.directories[directory].url
        return _sms_answer(directory, phone, call.arg("body"), url)
    campaign = _campaign(call)
    session = _send_session(call, campaign, now, phone=phone)
    if session.phone is None:
        state.set_phone(session, phone)
    state.sends.append(
        Send(
            channel="sms",
            to=phone,
            campaign=campaign.id,
            couponsession=session.code,
            body=call.arg("body"),
            sent_at=now,
        )
    )
    return {
        **_sms_answer(campaign.id, phone, call.arg("body"), session.url),
        "single_use_code": session.code,
        "single_use_url": session.url,
    }


def _sms_answer(campaign: str, phone: str, body: Any, url: str) -> dict[str, Any]:
    """send/sms's answer as the evidence shows it: the text sent, the phone without ``+``."""
    message = f"{body} {url}" if body else url
    return {
        "campaign": campaign,
        "message": message,
        "phone": phone.lstrip("+"),
        "action": "sms_sent",
    }


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

    def short_code() -> str:
        return "".join(rng.choice(_CODE_ALPHABET[10:]) for _ in range(3)) + str(
            rng.randrange(10, 99)
        )

    campaigns = [
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
