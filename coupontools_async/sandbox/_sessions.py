"""Handlers of the ``sessions`` tag (v3): lists, search, the state machine, delete, barcodes.

The session state machine follows api-docs 004 (couponsession/update and batch/update),
with its exact error codes and texts. Where the docs are silent, the choice is said in a
comment next to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._campaigns import (
    UTC,
    Campaign,
    Session,
    _campaign,
    _custom_fields,
    _session,
    event_payload,
    session_payload,
    status_payload,
)
from ._core import Call, fail, handles
from ._png import barcode_png

if TYPE_CHECKING:
    pass

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


@handles("sessions_barcode")
def sessions_barcode(call: Call) -> bytes:
    """couponsession/barcode: the barcode image of a session (PNG bytes)."""
    code = call.required("couponsession", 400)
    kind = call.required("type", 400)
    if kind not in ("code39", "code128b", "pdf417", "aztec", "qrcode"):
        fail(400, f"Unsupported type: {kind}")
    session = call.state.coupons.sessions.get(code)
    if session is None:
        fail(400, f"Couponsession {code} does not exist")
    return barcode_png(session.validation_code or session.code, kind)
