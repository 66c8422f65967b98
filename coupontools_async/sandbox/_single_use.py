"""Handlers of the ``single_use`` tag (v3): single-use coupon URLs, one or many."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._campaigns import (
    _ALNUM_UPPER,
    CUSTOM_FIELDS,
    UTC,
    Campaign,
    CouponsState,
    Session,
    _campaign,
    _custom_fields,
    _new_session_fields,
)
from ._core import Call, fail, handles
from ._wire_helpers import TIME_FORMAT

if TYPE_CHECKING:
    pass

# --------------------------------------------------------------- single use


def _expiry_date(text: str, campaign: Campaign) -> datetime:
    """singleuse/create ``expiry_date``, read in the campaign's timezone, as UTC."""
    try:
        zone: Any = ZoneInfo(campaign.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    try:
        moment = datetime.strptime(text, TIME_FORMAT)
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
        customid=call.text("customid"),
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
    length = call.required("code_length")
    kind = call.required("code_type")
    # The spec lets the client send 10-25 (the parameter text); the server-side check is the
    # 301 text's 3-30, so a direct call with a short length still behaves like the API.
    if not isinstance(length, int) or not 3 <= length <= 30:
        fail(301, "code length must be between 3 and 30 inclusive")
    if kind not in ("numeric", "alphanumeric"):
        fail(302, 'code_type must be "numeric" or "alphanumeric"')
    prefix = call.text("code_prefix")
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
