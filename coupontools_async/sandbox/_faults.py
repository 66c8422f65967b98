"""Faults and latency on demand: what goes wrong, how often, on which routes.

::

    sandbox.faults.inject(rate=0.2, kinds=["500", "503", "429", "drop", "commit_drop"])
    sandbox.faults.latency(0.05)                 # every answer 50 ms late
    sandbox.faults.latency((0.01, 0.2), routes=["wallet_users_*"])
    sandbox.faults.clear()

Fault kinds:

- ``"500"``, ``"502"``, ``"503"``, ``"504"``: that HTTP status, the call not applied;
- ``"429"``: rate limited with ``Retry-After`` (``retry_after`` seconds), not applied;
- ``"503-retry-after"``: 503 with ``Retry-After``, not applied;
- ``"refuse"``: the connection is refused, nothing reaches the server;
- ``"drop"``: the connection drops before the call is applied;
- ``"commit_drop"``: the call IS applied, then the connection drops before the answer —
  the case that makes a naive retry create a duplicate;
- ``"slow"``: the call is applied and answered after ``slow_seconds`` (a client with a
  shorter read timeout gives up on a call that happened).

Decisions come from one ``random.Random(seed)``, so the same sequence of requests meets
the same faults; rules can be added and cleared while the sandbox runs.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["FAULT_KINDS", "Decision", "FaultRule", "Faults"]

logger = logging.getLogger("coupontools_async.sandbox")
"""One INFO line per injected fault (``coupontools sandbox serve`` prints them)."""

FAULT_KINDS = frozenset(
    {
        "500",
        "502",
        "503",
        "504",
        "429",
        "503-retry-after",
        "refuse",
        "drop",
        "commit_drop",
        "slow",
    }
)


@attrs.frozen
class FaultRule:
    """One rule: on matching routes, fail ``rate`` of the calls with one of ``kinds``."""

    rate: float
    kinds: tuple[str, ...]
    routes: tuple[str, ...] | None = None
    """operationId patterns (``"wallet_users_*"``); None: every route."""
    retry_after: float = 1.0
    slow_seconds: float = 5.0

    def matches(self, operation_id: str) -> bool:
        """Does this rule apply to the operation?"""
        return self.routes is None or any(fnmatch.fnmatchcase(operation_id, r) for r in self.routes)


@attrs.frozen
class LatencyRule:
    """Every matching answer is delayed by ``seconds`` (or a uniform draw from a range)."""

    seconds: float | tuple[float, float]
    routes: tuple[str, ...] | None = None

    def matches(self, operation_id: str) -> bool:
        """Does this rule apply to the operation?"""
        return self.routes is None or any(fnmatch.fnmatchcase(operation_id, r) for r in self.routes)


@attrs.frozen
class Decision:
    """What happens to one call: a fault kind (or None) and a delay before answering."""

    kind: str | None = None
    delay: float = 0.0
    retry_after: float = 1.0
    slow_seconds: float = 0.0


class Faults:
    """The sandbox's fault plan. Deterministic by seed; change it at any time."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._faults: list[FaultRule] = []
        self._latency: list[LatencyRule] = []
        self.injected: Counter[str] = Counter()
        """How many faults of each kind were injected so far."""

    def reseed(self, seed: int) -> None:
        """Restart the random sequence."""
        self._random = random.Random(seed)

    def inject(
        self,
        *,
        rate: float,
        kinds: Sequence[str] = ("500", "503", "429"),
        routes: Iterable[str] | None = None,
        retry_after: float = 1.0,
        slow_seconds: float = 5.0,
    ) -> FaultRule:
        """Fail ``rate`` (0 to 1) of the matching calls, each with a kind drawn from ``kinds``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        if not retry_after >= 0 or math.isinf(retry_after):
            raise ValueError(f"retry_after must be a finite number of seconds, got {retry_after}")
        unknown = set(kinds) - FAULT_KINDS
        if unknown or not kinds:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(FAULT_KINDS)}")
        rule = FaultRule(
            rate=rate,
            kinds=tuple(kinds),
            routes=tuple(routes) if routes is not None else None,
            retry_after=retry_after,
            slow_seconds=slow_seconds,
        )
        self._faults.append(rule)
        return rule

    def latency(
        self, seconds: float | tuple[float, float], *, routes: Iterable[str] | None = None
    ) -> LatencyRule:
        """Delay matching answers by ``seconds``, or by a uniform draw from ``(low, high)``."""
        rule = LatencyRule(seconds=seconds, routes=tuple(routes) if routes is not None else None)
        self._latency.append(rule)
        return rule

    def remove(self, rule: FaultRule | LatencyRule) -> None:
        """Take one rule back."""
        if isinstance(rule, FaultRule):
            self._faults.remove(rule)
        else:
            self._latency.remove(rule)

    def clear(self) -> None:
        """No faults, no latency."""
        self._faults.clear()
        self._latency.clear()

    @property
    def active(self) -> bool:
        """True while any rule is set."""
        return bool(self._faults or self._latency)

    def decide(self, operation_id: str) -> Decision:
        """The fate of one call of ``operation_id``."""
        delay = 0.0
        for lat in self._latency:
            if lat.matches(operation_id):
                if isinstance(lat.seconds, tuple):
                    delay += self._random.uniform(*lat.seconds)
                else:
                    delay += lat.seconds
        for rule in self._faults:
            if rule.matches(operation_id) and self._random.random() < rule.rate:
                kind = self._random.choice(rule.kinds)
                self.injected[kind] += 1
                logger.info("sandbox fault %s injected on %s", kind, operation_id)
                return Decision(kind, delay, rule.retry_after, rule.slow_seconds)
        return Decision(None, delay)
