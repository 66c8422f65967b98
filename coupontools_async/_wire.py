"""Every wire format of the client in one place: JSON both ways, dates both ways, Retry-After.

Parsing a loose wire value into Python (timestamps in several layouts, ``"8"`` for 8)
is the lenient rules' job (``_kernel._scalars``, shared with the generated decoders);
they are re-exported here so a reader finds every format in this module. Formatting is
written here only. The sandbox may use the formatting helpers (it writes the same
layouts), never the client's validator.
"""

from __future__ import annotations

import enum
import json
import math
import re
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import attrs

from ._kernel._scalars import parse_datetime, to_date

__all__ = [
    "format_date",
    "format_date_minute",
    "format_datetime",
    "format_day_first_utc",
    "format_utc_seconds",
    "json_default",
    "json_dumps",
    "json_loads",
    "parse_datetime",
    "parse_retry_after",
    "retry_after_header",
    "to_date",
]


_DELTA_SECONDS = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


# ------------------------------------------------------------------------------ JSON


def json_loads(content: bytes | str) -> Any:
    """``content`` parsed exactly as ``json.loads`` parses it; through msgspec when the
    ``speed`` extra is installed (see :mod:`._fast`: orjson is not used, it turns integers
    past 64 bits into floats)."""
    from ._fast import loads

    return loads(content.encode() if isinstance(content, str) else content)


def json_default(value: Any) -> Any:
    """What JSON cannot hold by itself: enums as values, dates in ISO 8601, models as dicts."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if attrs.has(type(value)):
        from ._convert import unstructure  # cattrs loads at the first model sent

        return unstructure(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_dumps(body: Any) -> bytes:
    """A request body as the client sends it: compact UTF-8, no NaN (``ValueError``)."""
    return json.dumps(
        body, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=json_default
    ).encode()


# ----------------------------------------------------------------------------- dates


def format_date(day: date) -> str:
    """``yyyy-MM-dd`` (a datetime gives its wall-clock day)."""
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def format_date_minute(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm`` in UTC (an aware moment is converted; a naive one is UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return f"{format_date(moment)} {moment.hour:02d}:{moment.minute:02d}"


def format_datetime(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` wall-clock time, as given (the API reads it in the
    campaign's timezone)."""
    return f"{format_date(moment)} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"


def format_utc_seconds(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in UTC, as v3 answers write their timestamps."""
    return format_datetime(moment.astimezone(timezone.utc))


def format_day_first_utc(moment: datetime) -> str:
    """``dd/MM/yyyy HH:mm UTC``, the contact ``unsubscribedate`` layout (api-docs 003).

    An aware moment is converted to UTC; a naive one is taken as UTC already.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return (
        f"{moment.day:02d}/{moment.month:02d}/{moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d} UTC"
    )


# ----------------------------------------------------------------------- Retry-After


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    A date is taken relative to ``now`` (default: the current UTC time). A past date
    or a negative number gives 0.0; None, an empty value or garbage gives None.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with unknown local zone (RFC 5322)
        when = when.replace(tzinfo=timezone.utc)
    reference = now if now is not None else datetime.now(timezone.utc)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=timezone.utc)
    try:
        return max(0.0, (when - reference).total_seconds())
    except OverflowError:  # pragma: no cover - dates near datetime's limits
        return None


def retry_after_header(seconds: float) -> str:
    """A Retry-After value as RFC 9110 writes it: whole seconds, rounded up.

    Below one second the value is written as a plain decimal (``0.002``), never in
    exponent notation: a sandbox convenience that :func:`parse_retry_after` accepts.
    """
    if seconds >= 1 or float(seconds).is_integer():
        return str(max(0, math.ceil(seconds)))
    return format(max(0.0, seconds), "f").rstrip("0").rstrip(".") or "0"
