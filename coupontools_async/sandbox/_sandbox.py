"""The Sandbox: a stateful Coupontools in memory, answering like the real API."""

from __future__ import annotations

import inspect
import json
import logging
import random
import re
import string
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .._generated import OPERATIONS, Operation
from .._wire import format_datetime, retry_after_header
from . import (
    _account,
    _coupons,
    _coupons_seed,
    _directories,
    _directories_v4,
    _distribution,
    _loyalty,
    _messaging,
    _sessions,
    _single_use,
    _subaccounts,
    _wallet,
    _webhooks,
)
from ._checks import Refusal, check_body, check_path
from ._core import HANDLERS, Call, HttpFailure, V3Failure, utc_now
from ._faults import Decision, Faults
from ._state import SandboxConfig, SandboxState
from ._wire_helpers import ts

if TYPE_CHECKING:
    from .._client import AsyncClient
    from ._transport import SandboxTransport

__all__ = [
    "SANDBOX_BASE_URL",
    "ConnectionDropped",
    "ConnectionRefused",
    "Sandbox",
    "SandboxResponse",
]

logger = logging.getLogger("coupontools_async.sandbox")

SANDBOX_BASE_URL = "https://sandbox.coupontools.invalid"
"""The base URL of in-process sandbox clients (never resolved: no request leaves the process)."""

# Seeded in this order (one rng goes through them): a new domain goes last.
_DOMAINS = (_account, _coupons_seed, _loyalty, _wallet)
# Modules of handlers only (importing one registers them); their data lives in a domain.
_HANDLERS_ONLY = (
    _coupons,
    _directories,
    _directories_v4,
    _distribution,
    _messaging,
    _sessions,
    _single_use,
    _subaccounts,
    _webhooks,
)
_AUTH_TEXT = "HTTP/1.0 401 Unauthorized. Client ID or Secret not correct."
_UNPROCESSABLE = "HTTP/1.0 422 Unprocessable entity."
WebhookHook = Callable[[dict[str, Any]], Any]


class ConnectionDropped(Exception):
    """The sandbox drops this connection (a fault): no answer reaches the client."""

    def __init__(self, committed: bool) -> None:
        self.committed = committed
        super().__init__(
            "connection dropped" + (" after the call was applied" if committed else "")
        )


class ConnectionRefused(Exception):
    """The sandbox refuses this connection (a fault): nothing reached it."""


@attrs.frozen
class SandboxResponse:
    """One answer of the sandbox, transport-neutral."""

    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    delay: float = 0.0
    """Seconds to wait before the answer is delivered (latency and slow faults)."""


def _route_table() -> list[tuple[str, re.Pattern[str], Operation[Any]]]:
    table = []
    # Literal paths before templated ones: ".../stats/bulk" is not ".../stats/{user_id}".
    for op in sorted(OPERATIONS.values(), key=lambda o: o.path.count("{")):
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(op.path))
        table.append((op.method, re.compile(pattern + "$"), op))
    return table


_ROUTES = _route_table()
_Route = tuple[re.Pattern[str], Operation[Any]]


def _route_index() -> tuple[
    dict[tuple[str, str], Operation[Any]], dict[tuple[str, int], list[_Route]]
]:
    """``_ROUTES`` indexed once, so a request tries a handful of patterns, not all of them.

    Literal routes by (method, path); templated ones by (method, number of "/"), in
    ``_ROUTES``' order: a placeholder never matches a "/", so only those can match.
    """
    literal: dict[tuple[str, str], Operation[Any]] = {}
    templated: dict[tuple[str, int], list[_Route]] = {}
    for method, pattern, op in _ROUTES:
        if "{" in op.path:
            templated.setdefault((method, op.path.count("/")), []).append((pattern, op))
        else:
            literal.setdefault((method, op.path), op)  # the first in order wins, as in a scan
    return literal, templated


_LITERAL, _TEMPLATED = _route_index()


def find_operation(method: str, path: str) -> tuple[Operation[Any], dict[str, str]] | None:
    """The operation a request calls, with its path values."""
    # The patterns end in "$", which also matches before one final newline.
    op = _LITERAL.get((method, path[:-1] if path.endswith("\n") else path))
    if op is not None:
        return op, {}
    for pattern, route in _TEMPLATED.get((method, path.count("/")), ()):
        match = pattern.match(path)
        if match:
            return route, match.groupdict()
    return None


_EVENT_ALPHABET = string.ascii_letters + string.digits


def _draw(rng: random.Random, alphabet: str, length: int) -> str:
    """``length`` × ``rng.choice(alphabet)``, the same characters for the same rng state.

    ``choice`` is ``alphabet[_randbelow(len)]``, and ``_randbelow`` draws ``bit_length``
    bits until one is below the length: done inline, it costs a third of the calls
    (every event of a bulk create draws an id).
    """
    size = len(alphabet)
    bits = size.bit_length()
    getrandbits = rng.getrandbits
    chars = []
    for _ in range(length):
        r = getrandbits(bits)
        while r >= size:
            r = getrandbits(bits)
        chars.append(alphabet[r])
    return "".join(chars)


class Sandbox:
    """A Coupontools API in memory: every operation of the spec, stateful, with faults.

    ::

        sandbox = Sandbox.seeded(seed=1)           # cards, coupons, thousands of sessions
        async with sandbox.client() as ct:         # an AsyncClient talking to it in process
            cards = await ct.wallet_cards.list()
        sandbox.state.wallet                       # inspect what happened
        sandbox.faults.inject(rate=0.2, kinds=["503", "commit_drop"])

    Args:
        seed: makes ids, seeded data and fault decisions repeatable.
        client_id, client_secret: the credentials it accepts (others get error 1000 / 401).
        config: page sizes and loyalty rules (:class:`SandboxConfig`).
        on_webhook: called (or awaited) with every webhook event it emits.
        webhook_url: where to POST every webhook event it emits (needs a reachable server).
        v3_error_status: HTTP status of v3 failures: ``"text"`` (the status their
            ``error_message`` names: 401 or 422) or a number such as 200.
        stringify_v3: send v3 numbers and flags as strings (``"8"``, ``"1"``) like the
            real API does.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        config: SandboxConfig | None = None,
        on_webhook: WebhookHook | None = None,
        webhook_url: str | None = None,
        v3_error_status: int | str = "text",
        stringify_v3: bool = True,
    ) -> None:
        self.seed = seed
        self.client_id = client_id
        self._secret = client_secret
        self.state = SandboxState(config=config or SandboxConfig())
        self.faults = Faults(seed)
        self.on_webhook = on_webhook
        self.webhook_url = webhook_url
        self.v3_error_status = v3_error_status
        self.stringify_v3 = stringify_v3
        self.calls: dict[str, int] = {}
        """How many calls each operation received (faulted ones included)."""
        self._ids = random.Random(seed)
        self._outbox: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"Sandbox(seed={self.seed})"

    # ------------------------------------------------------------------ set-up

    @classmethod
    def seeded(cls, seed: int = 0, *, sessions: int = 2000, **kwargs: Any) -> Sandbox:
        """A sandbox with realistic data: cards, coupons, ``sessions`` sessions, groups...

        The same seed gives the same data.
        """
        sandbox = cls(seed=seed, **kwargs)
        sandbox.populate(sessions=sessions)
        return sandbox

    def populate(self, *, sessions: int = 2000) -> None:
        """Add the seeded data set to the current state."""
        rng = random.Random(self.seed)
        for domain in _DOMAINS:
            domain.seed(self.state, rng, sessions=sessions)

    def reset(self) -> None:
        """Forget everything (state, events, call counts); keep config and faults."""
        self.state = SandboxState(config=self.state.config)
        self.calls.clear()
        self._ids = random.Random(self.seed)

    @property
    def client_secret(self) -> str:
        """The secret this sandbox accepts (for configuring a client in your tests)."""
        return self._secret

    def transport(self) -> SandboxTransport:
        """An httpx transport answering from this sandbox in process."""
        from ._transport import SandboxTransport

        return SandboxTransport(self)

    def client(self, **kwargs: Any) -> AsyncClient:
        """An :class:`~coupontools_async.AsyncClient` talking to this sandbox in process.

        Keyword arguments go to the client (``max_retries``, ``retry``, ``timeout``...).
        """
        from .._client import AsyncClient

        kwargs.setdefault("base_url", SANDBOX_BASE_URL)
        return AsyncClient(self.client_id, self._secret, transport=self.transport(), **kwargs)

    def asgi_app(self) -> Callable[..., Awaitable[None]]:
        """This sandbox as an ASGI application (for uvicorn or any ASGI server)."""
        from ._asgi import SandboxASGI

        return SandboxASGI(self)

    # ---------------------------------------------------------------- handling

    async def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> SandboxResponse:
        """Answer one HTTP request, or raise ConnectionDropped/ConnectionRefused (faults)."""
        found = find_operation(method, path)
        if found is None:
            return _json_response(404, {"message": f"No route for {method} {path}"})
        op, path_values = found
        self.calls[op.id] = self.calls.get(op.id, 0) + 1
        if not self._authenticated(headers):
            if op.api_version == "v3":
                return self._v3_failure(1000, _AUTH_TEXT, shape=1)
            return _json_response(401, {"message": "Unauthenticated."})

        decision = self.faults.decide(op.id) if self.faults.active else Decision()
        early = _early_fault(decision)
        if early is not None:
            return attrs.evolve(early, delay=decision.delay)
        if decision.kind == "refuse":
            raise ConnectionRefused()
        if decision.kind == "drop":
            raise ConnectionDropped(committed=False)

        response = self._apply(op, path_values, body)
        await self._deliver_webhooks()
        if decision.kind == "commit_drop":
            raise ConnectionDropped(committed=True)
        delay = decision.delay + (decision.slow_seconds if decision.kind == "slow" else 0.0)
        return attrs.evolve(response, delay=delay) if delay else response

    def _authenticated(self, headers: Mapping[str, str]) -> bool:
        lower = {k.lower(): v for k, v in headers.items()}
        pairs = (("x-client-id", "x-client-secret"), ("x-api-key", "x-api-secret"))
        return any(
            lower.get(id_header) == self.client_id and lower.get(secret_header) == self._secret
            for id_header, secret_header in pairs
        )

    def _apply(
        self, op: Operation[Any], path_values: dict[str, str], raw: bytes
    ) -> SandboxResponse:
        v3 = op.api_version == "v3"
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            if v3:
                return self._v3_failure(300, "Request body is not valid JSON")
            return _json_response(400, {"message": "Request body is not valid JSON."})
        try:
            # The sandbox's own reading of the spec (_checks), never the client's validator.
            check_path(op.id, path_values)
            wire = check_body(op.id, body)
        except Refusal as exc:
            if v3:
                code, text = _v3_code_for(exc)
                return self._v3_failure(code, text)
            return _json_response(
                422, {"message": str(exc), "errors": {exc.param or "body": [str(exc)]}}
            )
        call = Call(op=op, path=path_values, body=wire, state=self.state, emit=self._emit)
        try:
            payload = HANDLERS[op.id](call)
        except V3Failure as exc:
            if v3:
                return self._v3_failure(exc.code, exc.message)
            return _json_response(422, {"message": exc.message, "code": exc.code})
        except HttpFailure as exc:
            if v3:
                return self._v3_failure(exc.status, exc.message)
            return _json_response(exc.status, {"message": exc.message})
        return self._success(op, payload)

    def _success(self, op: Operation[Any], payload: Any) -> SandboxResponse:
        if isinstance(payload, bytes):
            return SandboxResponse(200, (("content-type", "image/png"),), payload)
        if payload is None and op.response_kind == "empty":
            return SandboxResponse(204, (), b"")
        if op.api_version == "v3":
            data = _stringify(payload) if self.stringify_v3 else payload
            return _json_response(200, {"status": {"status": "OK"}, **(data or {})})
        return _json_response(200, payload)

    def _v3_failure(self, code: int, message: str, *, shape: int = 3) -> SandboxResponse:
        head = _AUTH_TEXT if code == 1000 else _UNPROCESSABLE
        if self.v3_error_status == "text":
            status = 401 if code == 1000 else 422
        else:
            status = int(self.v3_error_status)
        if shape == 1:
            body: dict[str, Any] = {
                "status": {
                    "status": "failed",
                    "errors": {"error_code": code, "error_message": message},
                }
            }
        else:
            body = {
                "status": {"status": "failed"},
                "errors": {
                    "error_message": head,
                    "error_message_description": [message],
                    "error_code": [code],
                },
            }
        return _json_response(status, body)

    # ----------------------------------------------------------------- webhooks

    def _emit(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": "evt_" + _draw(self._ids, _EVENT_ALPHABET, 20),
            "datetime": ts(utc_now()),
            "type": event_type,
            **payload,
        }
        self.state.events.append(event)
        if self.on_webhook is not None or self.webhook_url is not None:
            self._outbox.append(event)
        return event

    async def _deliver_webhooks(self) -> None:
        while self._outbox:
            event = self._outbox.pop(0)
            if self.on_webhook is not None:
                result = self.on_webhook(event)
                if inspect.isawaitable(result):
                    await result
            if self.webhook_url is not None:
                await self._post_webhook(event)

    async def _post_webhook(self, event: dict[str, Any]) -> None:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                await http.post(self.webhook_url or "", json=event)
        except httpx.HTTPError as exc:  # a webhook receiver being down must not fail the call
            logger.warning("webhook %s to %s failed: %s", event["type"], self.webhook_url, exc)


def _early_fault(decision: Decision) -> SandboxResponse | None:
    kind = decision.kind
    if kind is None or kind in ("refuse", "drop", "commit_drop", "slow"):
        return None
    retry_after = (("retry-after", retry_after_header(decision.retry_after)),)
    if kind == "429":
        return _json_response(429, {"message": "Too Many Attempts."}, retry_after)
    if kind == "503-retry-after":
        return _json_response(503, {"message": "Service Unavailable"}, retry_after)
    return _json_response(int(kind), {"message": "Sandbox fault"})


_V3_CODES = {
    "required": (200, "Missing parameter: {param}"),
    "pattern": (301, "Invalid character in parameter: {param}"),
    "type": (301, "Invalid character in parameter: {param}"),
    "enum": (302, "Invalid value in parameter: {param}"),
    "e164": (301, "Phone number not valid"),
    "email": (305, "Email address is not valid"),
    "date": (303, "Parameter {param} is not a valid date"),
}
"""The documented v3 code and text of each broken rule (api-docs 004's error list)."""


def _v3_code_for(exc: Refusal) -> tuple[int, str]:
    param = exc.param.split("[")[0].split(".")[0]
    code, text = _V3_CODES.get(exc.rule, (300, str(exc)))
    return code, text.format(param=param)


def _stringify(value: Any) -> Any:
    """v3 sends numbers and flags as strings and null as "" (FACTS.md)."""
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if value is True:
        return "1"
    if value is False:
        return "0"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def _json_response(
    status: int, payload: Any, extra: tuple[tuple[str, str], ...] = ()
) -> SandboxResponse:
    content = json.dumps(payload, separators=(",", ":"), default=_json_default).encode()
    return SandboxResponse(status, (("content-type", "application/json"), *extra), content)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


async def sleep(seconds: float) -> None:
    """Wait (latency faults); a separate function so tests can see it."""
    await anyio.sleep(seconds)
