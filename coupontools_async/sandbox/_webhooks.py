"""Handler of the ``webhooks`` tag (v3): what the sandbox knows about an event it emitted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._core import Call, fail, handles
from ._wire_helpers import ts


def _first_text(event: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = event.get(key)
        if isinstance(value, str) and value:
            return value
    return None


# Where each event payload names its coupon (campaign) and its session, by payload
# shape: coupon_* events carry `campaign` and `session`, coupon_created a `coupon`
# id, loyalty_complete a `statcode`, lp_submission `target_coupon`/`target_statcode`.
_COUPON_KEYS = ("campaign", "target_coupon")
_STATCODE_KEYS = ("session", "statcode", "target_statcode")


@handles("webhooks_verify")
def webhooks_verify(call: Call) -> dict[str, Any]:
    """What the sandbox knows about an event it emitted (v3 envelope added by the core)."""
    event_id = call.arg("webhook", "")
    event = call.state.event(event_id)
    if event is None:
        fail(509, "Webhook not found")
    event_type = str(event.get("type", ""))
    coupon = _first_text(event, _COUPON_KEYS)
    if coupon is None and event_type == "coupon_created":
        coupon = _first_text(event, ("coupon",))  # there `coupon` is the cam_ id itself
    moment = event.get("datetime")
    return {
        "webhook": event_id,
        "datetime": ts(moment) if isinstance(moment, datetime) else moment,
        "type": event_type,
        "coupon": coupon,
        "statcode": _first_text(event, _STATCODE_KEYS),
    }
