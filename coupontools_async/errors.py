"""Every exception the client raises, under one root: :class:`CoupontoolsError`.

::

    CoupontoolsError
    ├── APIConnectionError          could not talk to the server
    │   └── APITimeoutError
    ├── APIError                    the server said no (.status_code, .codes, .messages, .request_id)
    │   ├── AuthenticationError     HTTP 401/403; v3 1000, 101, 102
    │   ├── InvalidRequestError     HTTP 400/422; v3 200, 300-349
    │   ├── NotFoundError           HTTP 404; v3 502-515
    │   ├── ConflictError           HTTP 409; v3 351-360 (session state)
    │   ├── IntegrationError        v3 103, 104 (no SMS/email platform connected)
    │   ├── DeliveryError           v3 507 on push, 601-605
    │   ├── RateLimitError          HTTP 429 (.retry_after)
    │   └── ServerError             HTTP 5xx
    ├── ValidationError             bad input caught before sending (also a ValueError)
    └── WebhookError                a payload that cannot be parsed (also a ValueError)

No message, attribute or repr of these ever holds the client id or secret: they are
built from the operation, the status and the server's own error texts, and every text
passes through the one scrubber (``_redact.scrub``) on the way in, so a server page that
echoes the request headers shows ``[redacted]`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._redact import scrub

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ConflictError",
    "CoupontoolsError",
    "DeliveryError",
    "IntegrationError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "WebhookError",
    "class_for_code",
    "class_for_status",
]


class CoupontoolsError(Exception):
    """Base class of every error this library raises."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(a) if isinstance(a, str) else a for a in args))


# --------------------------------------------------------------------- transport level


class APIConnectionError(CoupontoolsError):
    """The request could not be completed: DNS, refused or dropped connection, TLS."""

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        self.operation = operation
        """``"POST /v3/coupon/info"``: what was being called."""
        super().__init__(f"{message} ({operation})" if operation else message)


class APITimeoutError(APIConnectionError):
    """The server did not answer in time (or the overall deadline ran out)."""


# -------------------------------------------------------------------- the server said no


class APIError(CoupontoolsError):
    """The server answered with an error: an HTTP error status or a v3 ``failed`` envelope."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        codes: Sequence[int] = (),
        messages: Sequence[str] = (),
        request_id: str | None = None,
        operation: str | None = None,
        body: str | None = None,
    ) -> None:
        self.status_code = status_code
        """The HTTP status of the answer."""
        self.codes = tuple(codes)
        """The v3 error codes (``(502,)``), several when the server reports several errors."""
        self.messages = tuple(scrub(m) for m in messages)
        """The server's error texts, one per code where it gives them."""
        self.request_id = request_id
        """The server's request id header, when it sends one (quote it to support)."""
        self.operation = operation
        """``"POST /v3/coupon/info"``: what was being called."""
        self.body = scrub(body) if body is not None else None
        """A short excerpt of an answer that was not the expected JSON (HTML error page...)."""
        super().__init__(message)

    @property
    def code(self) -> int | None:
        """The first v3 error code, or None."""
        return self.codes[0] if self.codes else None


class AuthenticationError(APIError):
    """The credentials were refused (HTTP 401/403; v3 1000, 101 expired, 102 subaccount)."""


class InvalidRequestError(APIError):
    """The server refused the parameters (HTTP 400/422; v3 200 missing, 300-349 bad value)."""


class NotFoundError(APIError):
    """What the request names does not exist (HTTP 404; v3 502-515)."""


class ConflictError(APIError):
    """The coupon session is not in a state that allows this (HTTP 409; v3 351-360)."""


class IntegrationError(APIError):
    """No SMS (v3 103) or email (v3 104) platform is connected to the account."""


class DeliveryError(APIError):
    """A message was not delivered (v3 507 on push, 601-605)."""


class RateLimitError(APIError):
    """Too many requests (HTTP 429), and retrying would wait longer than allowed."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        """Seconds the server asked to wait before the next request, when it said."""
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ServerError(APIError):
    """The server failed (HTTP 5xx) and retries, if allowed, did not help."""


# ------------------------------------------------------------------------ local errors


class ValidationError(CoupontoolsError, ValueError):
    """An argument breaks a documented rule; nothing was sent."""

    def __init__(self, message: str, *, param: str | None = None, rule: str | None = None) -> None:
        self.param = param
        """The parameter at fault (the API's name for it)."""
        self.rule = rule
        """The rule it breaks: ``required``, ``max_length``, ``pattern``, ``e164``, ..."""
        super().__init__(message)


class WebhookError(CoupontoolsError, ValueError):
    """A webhook body that is not a valid Coupontools webhook payload."""


# ------------------------------------------------------------------ the tables

STATUS_CLASSES: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitError,
}
"""The class of an HTTP error status (any other 4xx: :class:`APIError`; 5xx: ServerError)."""

V3_CODE_CLASSES: tuple[tuple[range, type[APIError]], ...] = (
    (range(1000, 1001), AuthenticationError),
    (range(101, 103), AuthenticationError),
    (range(103, 105), IntegrationError),
    (range(200, 201), InvalidRequestError),
    (range(300, 350), InvalidRequestError),
    (range(351, 361), ConflictError),
    (range(502, 516), NotFoundError),
    (range(601, 606), DeliveryError),
)
"""The documented v3 error code ranges and their class. An operation that means a code
differently says so in the spec (``x-error-classes``), which wins; a 4xx code is an HTTP
status used as a code (couponsession/barcode) and takes that status's class."""


def class_for_code(code: int, overrides: Sequence[tuple[int, str]] = ()) -> type[APIError] | None:
    """The class of one v3 error code (None: unknown, the HTTP status decides)."""
    for known, name in overrides:
        if known == code:
            cls: type[APIError] = globals()[name]
            return cls
    for codes, cls in V3_CODE_CLASSES:
        if code in codes:
            return cls
    if 400 <= code <= 499:
        return STATUS_CLASSES.get(code, InvalidRequestError)
    return None


def class_for_status(status: int) -> type[APIError] | None:
    """The class of an HTTP status (None below 400: not an error)."""
    if status < 400:
        return None
    if status >= 500:
        return ServerError
    return STATUS_CLASSES.get(status, APIError)
