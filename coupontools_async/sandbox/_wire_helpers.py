"""The sandbox's own wire helpers, each written once: the v3 timestamp and stable codes.

Layouts are written through :mod:`coupontools_async._wire`'s formatting helpers (one
place for every wire format); what the sandbox accepts is checked by its own
``_checks``, never the client's validator, so a client bug cannot hide behind a
sandbox that agrees with it.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, overload

from .._wire import format_utc_seconds

__all__ = ["LOWER_ALNUM", "TIME_FORMAT", "code", "ts"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The docs' ``yyyy-MM-dd HH:mm:ss`` (UTC unless a field says otherwise)."""
LOWER_ALNUM = string.ascii_lowercase + string.digits


@overload
def ts(moment: datetime) -> str: ...
@overload
def ts(moment: datetime | None) -> str | None: ...
def ts(moment: datetime | None) -> str | None:
    """A v3 timestamp, ``yyyy-MM-dd HH:mm:ss`` in UTC (a naive time is taken as UTC; None stays None)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return format_utc_seconds(moment)


def code(
    seed: str,
    length: int,
    *,
    alphabet: str = LOWER_ALNUM,
    digest: Callable[[bytes], Any] = hashlib.sha256,
) -> str:
    """A deterministic code of ``length`` characters of ``alphabet`` derived from ``seed``.

    Derived rather than drawn from an rng, so codes do not depend on the order calls
    arrive in, and two sandboxes with the same history agree.
    """
    number = int.from_bytes(digest(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(alphabet))
        chars.append(alphabet[rest])
    return "".join(chars)
