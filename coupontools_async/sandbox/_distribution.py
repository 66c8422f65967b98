"""Handlers of the ``distribution`` tag (v3): sending a coupon by email or SMS."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._campaigns import (
    Campaign,
    Send,
    Session,
    _campaign,
    _new_session_fields,
)
from ._core import Call, fail, handles

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


def _send_coupon(
    call: Call, campaign: Campaign, channel: str, to: str, now: datetime, **text: Any
) -> Session:
    """Send a session of ``campaign`` (given or new) to ``to`` on ``channel``; record it.

    A given session without the address gets it, so search and duplicate_check see it.
    """
    state = call.state.coupons
    names = {key: text[key] for key in ("firstname", "lastname") if key in text}
    if channel == "email":
        session = _send_session(call, campaign, now, email=to, **names)
        if session.email is None:
            state.set_email(session, to)
    else:
        session = _send_session(call, campaign, now, phone=to, **names)
        if session.phone is None:
            state.set_phone(session, to)
    state.sends.append(
        Send(
            channel=channel,
            to=to,
            campaign=campaign.id,
            couponsession=session.code,
            sent_at=now,
            **text,
        )
    )
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


def _send_other(
    call: Call, channel: str, to: str, now: datetime, **text: Any
) -> tuple[str, str] | None:
    """Record the send of a web loyalty card or a directory: ``("loyaltycard", id)`` or
    ``("campaign", dir_id)``; None when a coupon is being sent."""
    sends = call.state.coupons.sends
    loyaltycard = call.arg("loyaltycard")
    if loyaltycard is not None:
        _loyalty_card(call, loyaltycard)
        sends.append(Send(channel=channel, to=to, loyaltycard=loyaltycard, sent_at=now, **text))
        return "loyaltycard", loyaltycard
    directory = _directory_id(call)
    if directory is not None:
        sends.append(Send(channel=channel, to=to, campaign=directory, sent_at=now, **text))
        return "campaign", directory
    return None


def _require_integration(connected: bool, code: int, kind: str) -> None:
    """Refuse a send on a channel with no provider set up (the v3 text, ``kind`` in it)."""
    if not connected:
        fail(
            code,
            f"No {kind} integration has been setup in your Coupontools account. Go to "
            f"'integrations' and '{kind} marketing' to setup an {kind} provider",
        )


@handles("distribution_send_email")
def distribution_send_email(call: Call) -> dict[str, Any]:
    """send/email: a coupon (new or given session) or a web loyalty card, by email."""
    state = call.state.coupons
    _require_integration(state.email_connected, 104, "Email")
    email = str(call.arg("email"))
    now = call.now()
    other = _send_other(call, "email", email, now, subject=call.arg("subject"))
    if other is not None:
        return {other[0]: other[1], "action": "email_sent"}
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
    session = _send_coupon(
        call,
        campaign,
        "email",
        email,
        now,
        subject=call.arg("subject"),
        firstname=firstname,
        lastname=lastname,
    )
    return {"campaign": campaign.id, "couponsession": session.code, "action": "email_sent"}


@handles("distribution_send_sms")
def distribution_send_sms(call: Call) -> dict[str, Any]:
    """send/sms: a coupon (new or given session) or a web loyalty card, by text message."""
    state = call.state.coupons
    _require_integration(state.sms_connected, 103, "SMS")
    phone = str(call.arg("phone"))
    now = call.now()
    other = _send_other(call, "sms", phone, now, body=call.arg("body"))
    if other is not None:
        kind, target = other
        if kind == "loyaltycard":
            return {"loyaltycard": target, "action": "sms_sent"}
        url = call.state.account.directories[target].url
        return _sms_answer(target, phone, call.arg("body"), url)
    campaign = _campaign(call)
    session = _send_coupon(call, campaign, "sms", phone, now, body=call.arg("body"))
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
