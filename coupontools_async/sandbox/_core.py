"""What every sandbox domain module builds on: the call, failures and the handler registry.

A domain module (``_coupons``, ``_wallet``, ...) defines its state as an attrs class,
registers one handler per operationId with :func:`handles`, and a ``seed`` function.
Handlers are plain synchronous functions: the sandbox's state lives in one event loop
and a handler never awaits, so a call is atomic without locks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from .._generated import Operation

if TYPE_CHECKING:
    from ._state import SandboxState

__all__ = [
    "HANDLERS",
    "Call",
    "HttpFailure",
    "V3Failure",
    "fail",
    "handles",
    "http_fail",
    "utc_now",
]


class V3Failure(Exception):
    """A documented v3 error: answered as a ``failed`` envelope with this code and text."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code} {message}")


class HttpFailure(Exception):
    """A v4 error: answered with this HTTP status and ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"HTTP {status} {message}")


def fail(code: int, message: str) -> NoReturn:
    """Answer the current v3 call with a documented error (``fail(502, "Campaign ID not found")``)."""
    raise V3Failure(code, message)


def http_fail(status: int, message: str) -> NoReturn:
    """Answer the current v4 call with an HTTP error (``http_fail(404, "User not found")``)."""
    raise HttpFailure(status, message)


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(timezone.utc)


@attrs.define
class Call:
    """One request to the sandbox, as a handler sees it (already authenticated and validated)."""

    op: Operation[Any]
    path: dict[str, str]
    """Path values as sent (strings): ``{"card_id": "1", "user_id": "2"}``."""
    body: Any
    """The JSON body as sent: a dict (v3 and most v4), a list (bulk create) or None."""
    state: SandboxState
    emit: Callable[[str, dict[str, Any]], dict[str, Any]]
    """``emit("coupon_claimed", payload)`` records (and delivers) a webhook event and returns
    it with its ``id``, ``datetime`` and ``type`` filled in."""
    now: Callable[[], datetime] = utc_now

    def arg(self, name: str, default: Any = None) -> Any:
        """A body field, or ``default`` when absent or null."""
        if isinstance(self.body, dict):
            value = self.body.get(name)
            return default if value is None else value
        return default

    def required(self, name: str, code: int = 200) -> Any:
        """A body field that must be given: v3 ``code`` "Missing parameter: <name>" when not."""
        value = self.arg(name)
        if value is None:
            fail(code, f"Missing parameter: {name}")
        return value

    def text(self, name: str, default: str = "") -> str:
        """A body field as text, or ``default`` when absent or null."""
        return str(self.arg(name, default))

    def path_int(self, name: str) -> int:
        """A numeric path id (``card_id``); a non-number is a 404 like the real API."""
        try:
            return int(self.path[name])
        except (KeyError, ValueError):
            http_fail(404, f"{name} not found")


Handler = Callable[[Call], Any]
"""Returns the payload: for v3 a dict (the envelope's ``status`` is added for it), for v4
any JSON value; ``bytes`` for a binary answer; None for an empty one."""

HANDLERS: dict[str, Handler] = {}
"""Handler of every operation, by operationId (filled in as domain modules import)."""


def handles(*operation_ids: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these operations."""

    def register(fn: Handler) -> Handler:
        for op_id in operation_ids:
            if op_id in HANDLERS:
                raise RuntimeError(f"two sandbox handlers for {op_id}")
            HANDLERS[op_id] = fn
        return fn

    return register
