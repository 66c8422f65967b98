"""Handlers of the ``coupons`` tag (v3): list, get and the coupon pushes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._campaigns import (
    Push,
    _campaign,
    _session,
    coupon_payload,
)
from ._core import Call, fail, handles

if TYPE_CHECKING:
    pass

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
    tags = {t.strip().lower() for t in call.text("tags").split(",") if t.strip()}
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
            message=call.text("message"),
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
            message=call.text("message"),
            recipients=(session.code,),
            sent_at=call.now(),
        )
    )
    return {
        "campaign": campaign.id,
        "couponsession": session.code,
        "action": "push_notification_sent",
    }
