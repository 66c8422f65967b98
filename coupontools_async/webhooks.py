"""Coupontools webhooks: parse a payload into a typed event, and check it is genuine.

::

    from coupontools_async import webhooks

    event = webhooks.parse(request_body)          # bytes, str or an already-decoded dict
    match event:
        case models.CouponEvent():                # coupon_claimed, coupon_validated, ...
            ...
        case models.WalletUserCreatedEvent():     # loyalty_v3_created
            ...
        case webhooks.UnknownEvent():             # a type this version does not know
            ...

    verification = await webhooks.verify(ct, event)   # None: Coupontools never sent it

The model is chosen by the payload's ``type``: an exact match first (``coupon_created``
has its own payload), then by prefix (every other ``coupon_*`` event is a
:class:`~coupontools_async.models.CouponEvent`). A ``type`` this library does not know
gives an :class:`UnknownEvent` holding the raw data, not an error. Anything that is not a
webhook payload raises :class:`~coupontools_async.WebhookError`, and nothing else.

Coupontools does not sign its webhooks; the documented way to tell a genuine event from
a forged one is to ask the API about its id (:func:`verify`), which confirms the id,
type, campaign and session the API's answer carries, and nothing else: customer data in
a payload is unverified (re-read it from the API when it matters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from ._convert import parse_datetime, structure
from ._generated import events
from ._generated.api.webhooks import WEBHOOKS_VERIFY
from ._generated.events import *  # noqa: F403  (the event models, one name per spec webhook)
from ._generated.events import EVENT_TYPE_PREFIXES, EVENT_TYPES, EventModel
from ._generated.models import CouponCreatedEvent, WebhookVerification
from .errors import NotFoundError, WebhookError

if TYPE_CHECKING:
    from ._client import AsyncClient

# The event models are defined in models and re-exported here (the generated events
# module lists them), so `from coupontools_async.webhooks import CouponEvent` passes
# `mypy --strict`; a webhook added to the spec is exported with no edit here.
__all__ = [
    "EVENT_MODELS",
    "UnknownEvent",
    "WebhookEvent",
    "WebhookVerification",
    "event_identity",
    "event_model",
    "is_verifiable",
    "mismatch",
    "parse",
    "parse_and_verify",
    "parse_with_raw",
    "verify",
]
__all__ += events.__all__


@attrs.define(kw_only=True)
class UnknownEvent:
    """A webhook whose ``type`` this library does not know (yet): the raw payload, kept whole."""

    id: str
    """Event id (``evt_...``)."""
    type: str
    """Event type, as sent."""
    datetime: datetime | None
    """When the event happened, when the payload has a readable ``datetime``."""
    data: dict[str, Any]
    """The whole payload, as decoded from JSON."""


WebhookEvent: TypeAlias = EventModel | UnknownEvent
"""What :func:`parse` returns: one of the typed event models, or :class:`UnknownEvent`."""

EVENT_MODELS: tuple[type[Any], ...] = tuple(
    dict.fromkeys([*EVENT_TYPES.values(), *(model for _, model in EVENT_TYPE_PREFIXES)])
)
"""Every typed event model (not :class:`UnknownEvent`): ``isinstance(event, EVENT_MODELS)``."""

_MAX_DEPTH = 64
"""Payloads nested deeper than this are refused (the documented ones are 3 deep)."""

_VERIFIABLE_ID = re.compile(
    next((p.pattern for p in WEBHOOKS_VERIFY.params if p.name == "webhook"), None)
    or r"^evt_[A-Za-z0-9]+$"
)
"""The ids the verification endpoint accepts (the spec's pattern for ``webhook``)."""


# --------------------------------------------------------------------------- parsing


def event_model(event_type: str) -> type[Any] | None:
    """The model class for a webhook ``type``, or None when the type is unknown.

    An exact match wins (``coupon_created``), then a prefix (``coupon_validated`` is a
    :class:`~coupontools_async.models.CouponEvent`).
    """
    model = EVENT_TYPES.get(event_type)
    if model is not None:
        return model
    for prefix, prefixed in EVENT_TYPE_PREFIXES:
        if event_type.startswith(prefix):
            return prefixed
    return None


def parse(body: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Turn a webhook body into its typed event.

    Args:
        body: the raw request body (UTF-8 JSON ``bytes`` or ``str``), or the payload
            already decoded into a mapping.

    Returns:
        The event model its ``type`` selects, or an :class:`UnknownEvent` for a type
        this library does not know.

    Raises:
        WebhookError: the body is not a webhook payload (not JSON, not an object, no
            ``id`` or ``type``, or fields a known event cannot have). Never anything else.
    """
    return parse_with_raw(body)[0]


def parse_with_raw(body: bytes | str | Mapping[str, Any]) -> tuple[WebhookEvent, dict[str, Any]]:
    """Like :func:`parse`, also returning the decoded payload as a plain dict.

    For fields a newer API version sends that the models do not have yet, or to store the
    event as received: ``event, raw = parse_with_raw(body)``.
    """
    try:
        data = _load(body)
        return _decode(data), data
    except WebhookError:
        raise
    except RecursionError:
        raise WebhookError("invalid webhook: nested too deeply") from None
    except Exception as exc:  # a webhook parser must fail in one documented way only
        raise WebhookError(f"invalid webhook: {_short(exc)}") from exc


def _load(body: object) -> dict[str, Any]:
    if isinstance(body, Mapping):
        data: Any = dict(body)
    else:
        if isinstance(body, (bytes, bytearray, memoryview)):
            try:
                text = bytes(body).decode("utf-8-sig")
            except UnicodeDecodeError:
                raise WebhookError("invalid webhook: the body is not UTF-8 text") from None
        elif isinstance(body, str):
            text = body
        else:
            raise WebhookError(
                f"invalid webhook: expected JSON bytes, text or a mapping, got {type(body).__name__}"
            )
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise WebhookError("invalid webhook: the JSON is nested too deeply") from None
        except ValueError as exc:
            raise WebhookError(f"invalid webhook: the body is not JSON ({_short(exc)})") from None
    if not isinstance(data, dict):
        raise WebhookError(f"invalid webhook: expected a JSON object, got {_json_kind(data)}")
    if _too_deep(data, _MAX_DEPTH):
        raise WebhookError("invalid webhook: nested too deeply")
    return data


def _decode(data: dict[str, Any]) -> WebhookEvent:
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise WebhookError("invalid webhook: no event type (`type`)")
    event_id = data.get("id")
    if isinstance(event_id, bool) or not isinstance(event_id, (str, int)) or event_id == "":
        raise WebhookError("invalid webhook: no event id (`id`)")
    model = event_model(event_type)
    if model is None:
        return UnknownEvent(
            id=str(event_id), type=event_type, datetime=_maybe_datetime(data), data=data
        )
    if data.get("datetime") in (None, ""):
        raise WebhookError(f"invalid {event_type} webhook: no `datetime`")
    try:
        event: WebhookEvent = structure(data, model)
    except RecursionError:
        raise WebhookError(f"invalid {event_type} webhook: nested too deeply") from None
    except KeyError as exc:  # a required field of the model
        raise WebhookError(f"invalid {event_type} webhook: no {_short(exc)}") from exc
    except Exception as exc:
        raise WebhookError(f"invalid {event_type} webhook: {_short(exc)}") from exc
    if event.datetime is None:
        raise WebhookError(f"invalid {event_type} webhook: no `datetime`")
    return event


def _maybe_datetime(data: dict[str, Any]) -> datetime | None:
    try:
        return parse_datetime(data.get("datetime"))
    except Exception:  # an unknown event keeps its raw datetime in .data
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests dicts/lists more than ``limit`` deep (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------- verification


def is_verifiable(event: WebhookEvent | str) -> bool:
    """Whether the verification endpoint can be asked about this event (an ``evt_...`` id).

    The docs' ``directory_registration`` example has the id ``"922"``, which the endpoint's
    documented ``evt_`` pattern does not allow.
    """
    event_id = event if isinstance(event, str) else event.id
    return _VERIFIABLE_ID.fullmatch(event_id) is not None


_CAMPAIGN_FIELDS = ("campaign", "target_coupon")
_SESSION_FIELDS = ("session", "statcode", "target_statcode", "coupon_code")


def _event_text(event: WebhookEvent, names: tuple[str, ...]) -> str | None:
    """The first of these fields the event carries as non-empty text."""
    data: Mapping[str, Any] | None = event.data if isinstance(event, UnknownEvent) else None
    for name in names:
        value = data.get(name) if data is not None else getattr(event, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def event_identity(event: WebhookEvent) -> dict[str, str | None]:
    """The fields verification can confirm, as the event claims them: id, type, campaign, session."""
    campaign = _event_text(event, _CAMPAIGN_FIELDS)
    if campaign is None and isinstance(event, CouponCreatedEvent):
        campaign = event.coupon  # there `coupon` is the campaign id itself
    return {
        "id": event.id,
        "type": event.type,
        "campaign": campaign,
        "session": _event_text(event, _SESSION_FIELDS),
    }


def _answer_identity(answer: WebhookVerification) -> dict[str, str | None]:
    return {
        "id": answer.webhook,
        "type": answer.type,
        "campaign": answer.campaign or answer.coupon,
        "session": answer.session or answer.statcode,
    }


def mismatch(event: WebhookEvent, answer: WebhookVerification) -> str | None:
    """The first identifying field the API's answer contradicts (or the event lacks), or None.

    Compared: id, type, campaign (``campaign``/``coupon``) and session
    (``session``/``statcode``), each only when the answer carries it.
    """
    mine = event_identity(event)
    for field, known in _answer_identity(answer).items():
        if known in (None, ""):
            continue  # the answer says nothing about it: not confirmed, not refuted
        if mine[field] != known:
            return field
    return None


async def verify(client: AsyncClient, event: WebhookEvent | str) -> WebhookVerification | None:
    """Ask Coupontools whether it sent this event (``POST /v4/webhook/verification``).

    The event is confirmed only when the answer agrees with it on **every identifying
    field the answer carries**: the id (``webhook``), ``type``, the campaign
    (``campaign`` or ``coupon``) and the session (``session`` or ``statcode``). A field
    the answer carries that the event lacks or differs on means "not genuine" (a real id
    replayed with another campaign or a made-up session). A field the answer does not
    carry is neither confirmed nor refuted.

    What verification can never confirm: everything else in the payload, notably the
    **customer data** (name, email, phone, custom fields) and the coupon's texts and
    values. Treat them as what the sender claims; when they matter, read them from the
    API (``ct.sessions.get(...)``) by the confirmed campaign and session.

    Args:
        client: the client to ask with (its account must be the one that sent the event).
        event: a parsed event, or an event id (then only the id can be checked).

    Returns:
        What Coupontools knows about the event, or None when the event is not genuine:
        the API does not know its id (error 509), its answer contradicts the event, or
        the id is not an ``evt_...`` id the endpoint can be asked about (see
        :func:`is_verifiable`).

    Raises:
        APIError, APIConnectionError: the verification call itself failed (bad
            credentials, server down, ...); the event is neither confirmed nor refuted.
    """
    event_id = event if isinstance(event, str) else event.id
    if not is_verifiable(event_id):
        return None
    try:
        verification = await client.webhooks.verify(webhook=event_id)
    except NotFoundError as exc:
        if 509 in exc.codes:
            return None
        raise
    if verification.webhook not in (None, "", event_id):
        return None  # the API answered about another event
    if not isinstance(event, str) and mismatch(event, verification) is not None:
        return None  # a genuine id replayed with another event's fields
    return verification


async def parse_and_verify(
    client: AsyncClient, body: bytes | str | Mapping[str, Any]
) -> tuple[WebhookEvent, WebhookVerification | None]:
    """:func:`parse` the body, then :func:`verify` the event.

    ``event, verification = await parse_and_verify(ct, body)``; ``verification`` is None
    when the event is not genuine.

    Raises:
        WebhookError: the body is not a webhook payload (nothing was asked).
        APIError, APIConnectionError: the verification call failed.
    """
    event = parse(body)
    return event, await verify(client, event)
