"""A pytest plugin for testing your code against the sandbox, as moto and respx do.

Installed with the package (entry point ``pytest11: coupontools``), it gives every
test two fixtures:

- ``coupontools_sandbox``: a fresh seeded :class:`~coupontools_async.sandbox.Sandbox`
  per test (same seed, same data), with the configured faults and latency;
- ``coupontools_client``: an :class:`~coupontools_async.AsyncClient` on that sandbox,
  opened for the test and closed after it (an async fixture: use it from
  ``@pytest.mark.anyio`` tests, or pytest-asyncio in auto mode).

Options, from the weakest to the strongest: the ini keys ``coupontools_seed``,
``coupontools_sessions``, ``coupontools_faults`` and ``coupontools_latency``; the
command-line flags ``--coupontools-seed``, ``--coupontools-faults`` and
``--coupontools-latency``; and per test the marker
``@pytest.mark.coupontools(seed=7, sessions=100, faults="0.5:503,429", latency=0.01)``.

Faults are ``RATE:KIND,KIND`` (``"0.2:503,commit_drop"``; the kinds of
``coupontools_async.sandbox.FAULT_KINDS``); in the marker also a mapping of
``Faults.inject`` arguments or a list of them. Latency is seconds, or ``LOW-HIGH`` for a
uniform draw (a ``(low, high)`` tuple in the marker). ``-p no:coupontools`` turns the
plugin off.

Only pytest is imported when pytest starts; the sandbox is imported by the fixtures, so
projects that never use them do not pay for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pytest

if TYPE_CHECKING:
    from ._client import AsyncClient
    from .sandbox import Sandbox

__all__ = [
    "SandboxOptions",
    "coupontools_client",
    "coupontools_sandbox",
    "parse_faults",
    "parse_latency",
]

_DEFAULT_SEED = 0
_DEFAULT_SESSIONS = 200
"""Seeded coupon sessions per fresh sandbox: enough to page through, cheap to build."""

Latency = float | tuple[float, float]


@attrs.frozen
class SandboxOptions:
    """What one test's sandbox is built with (options and marker merged)."""

    seed: int = _DEFAULT_SEED
    sessions: int = _DEFAULT_SESSIONS
    faults: tuple[Mapping[str, Any], ...] = ()
    """``Faults.inject`` keyword arguments, one mapping per rule."""
    latency: Latency | None = None


def parse_faults(text: str, *, source: str = "faults") -> tuple[Mapping[str, Any], ...]:
    """``"0.2:503,429"`` as ``Faults.inject`` arguments; ``""`` or ``"none"``: no faults."""
    text = text.strip()
    if not text or text.lower() == "none":
        return ()
    rate_text, sep, kinds_text = text.partition(":")
    kinds = [kind.strip() for kind in kinds_text.split(",") if kind.strip()]
    try:
        rate = float(rate_text)
    except ValueError:
        rate = -1.0
    if not sep or not kinds or not 0.0 <= rate <= 1.0:
        raise pytest.UsageError(
            f"{source}: {text!r} is not RATE:KIND[,KIND...] with a rate from 0 to 1"
            " (for example 0.2:503,429)"
        )
    _check_kinds(kinds, source)
    return ({"rate": rate, "kinds": tuple(kinds)},)


def parse_latency(text: str, *, source: str = "latency") -> Latency | None:
    """``"0.05"`` (seconds) or ``"0.01-0.2"`` (a uniform draw); ``""`` or ``"none"``: none."""
    text = text.strip()
    if not text or text.lower() == "none":
        return None
    low_text, sep, high_text = text.partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if sep else low
    except ValueError:
        low = high = -1.0
    # NaN compares false with everything, so this refuses it too (and inf, which never answers).
    if not 0.0 <= low <= high < float("inf"):
        raise pytest.UsageError(
            f"{source}: {text!r} is not SECONDS or LOW-HIGH seconds (for example 0.05 or 0.01-0.2)"
        )
    return (low, high) if sep else low


def _check_kinds(kinds: Sequence[str], source: str) -> None:
    # The one list of kinds lives with the sandbox; importing it here only happens when
    # a fault option is actually given.
    from .sandbox import FAULT_KINDS

    unknown = sorted(set(kinds) - FAULT_KINDS)
    if unknown:
        raise pytest.UsageError(
            f"{source}: unknown fault kinds {unknown}; known: {', '.join(sorted(FAULT_KINDS))}"
        )


def _int_option(value: object, source: str, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise pytest.UsageError(f"{source}: {value!r} is not a whole number >= {minimum}")
    return number


# ----------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--coupontools-*`` flags and ``coupontools_*`` ini keys."""
    group = parser.getgroup("coupontools", "coupontools_async sandbox fixtures")
    group.addoption(
        "--coupontools-seed",
        default=None,
        help="seed of every coupontools_sandbox (default: ini coupontools_seed, else 0)",
    )
    group.addoption(
        "--coupontools-faults",
        default=None,
        help="faults of every coupontools_sandbox, RATE:KIND[,KIND] (e.g. 0.2:503,429)",
    )
    group.addoption(
        "--coupontools-latency",
        default=None,
        help="latency of every coupontools_sandbox answer: SECONDS or LOW-HIGH",
    )
    parser.addini("coupontools_seed", "seed of every coupontools_sandbox", default=None)
    parser.addini(
        "coupontools_sessions",
        "coupon sessions seeded into every coupontools_sandbox",
        default=None,
    )
    parser.addini("coupontools_faults", "faults: RATE:KIND[,KIND] (e.g. 0.2:503)", default=None)
    parser.addini("coupontools_latency", "latency: SECONDS or LOW-HIGH", default=None)


_DEFAULTS_KEY = pytest.StashKey[SandboxOptions]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and refuse bad options before any test runs."""
    config.addinivalue_line(
        "markers",
        "coupontools(seed=None, sessions=None, faults=None, latency=None): "
        "how this test's coupontools_sandbox is built",
    )
    config.stash[_DEFAULTS_KEY] = _configured(config)


def _setting(config: pytest.Config, name: str) -> tuple[Any, str]:
    flag = config.getoption(f"--coupontools-{name}", default=None)
    if flag is not None:
        return flag, f"--coupontools-{name}"
    return config.getini(f"coupontools_{name}"), f"ini coupontools_{name}"


def _configured(config: pytest.Config) -> SandboxOptions:
    seed, seed_source = _setting(config, "seed")
    faults, faults_source = _setting(config, "faults")
    latency, latency_source = _setting(config, "latency")
    sessions = config.getini("coupontools_sessions")
    return SandboxOptions(
        seed=_DEFAULT_SEED if seed is None else _int_option(seed, seed_source, 0),
        sessions=(
            _DEFAULT_SESSIONS
            if sessions is None
            else _int_option(sessions, "ini coupontools_sessions", 0)
        ),
        faults=() if faults is None else parse_faults(str(faults), source=faults_source),
        latency=None if latency is None else parse_latency(str(latency), source=latency_source),
    )


def _marker_faults(value: Any) -> tuple[Mapping[str, Any], ...]:
    source = "@pytest.mark.coupontools(faults=...)"
    if value is None:
        return ()
    if isinstance(value, str):
        return parse_faults(value, source=source)
    rules = [value] if isinstance(value, Mapping) else list(value)
    for rule in rules:
        if not isinstance(rule, Mapping) or "rate" not in rule:
            raise pytest.UsageError(
                f"{source}: {rule!r} is not a mapping of Faults.inject arguments with a rate"
            )
        _check_kinds(list(rule.get("kinds", ())), source)
    return tuple(rules)


def _marker_latency(value: Any) -> Latency | None:
    text = "" if value is None else value
    if isinstance(value, tuple) and len(value) == 2:
        text = f"{value[0]}-{value[1]}"
    return parse_latency(str(text), source="@pytest.mark.coupontools(latency=...)")


def options_for(request: pytest.FixtureRequest) -> SandboxOptions:
    """The options of this test: the configured ones, overridden by its marker."""
    options = request.config.stash[_DEFAULTS_KEY]
    marker = request.node.get_closest_marker("coupontools")
    if marker is None:
        return options
    if marker.args:
        raise pytest.UsageError("@pytest.mark.coupontools takes keyword arguments only")
    known = {"seed", "sessions", "faults", "latency"}
    unknown = sorted(set(marker.kwargs) - known)
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.coupontools: unknown arguments {unknown}; known: {sorted(known)}"
        )
    kwargs = marker.kwargs
    changes: dict[str, Any] = {}
    for name in ("seed", "sessions"):
        if kwargs.get(name) is not None:
            changes[name] = _int_option(kwargs[name], f"@pytest.mark.coupontools({name}=...)", 0)
    if "faults" in kwargs:
        changes["faults"] = _marker_faults(kwargs["faults"])
    if "latency" in kwargs:
        changes["latency"] = _marker_latency(kwargs["latency"])
    return attrs.evolve(options, **changes)


# -------------------------------------------------------------------------- fixtures


@pytest.fixture
def coupontools_sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """A fresh seeded sandbox for this test, with the configured faults and latency."""
    from .sandbox import Sandbox

    options = options_for(request)
    sandbox = Sandbox.seeded(seed=options.seed, sessions=options.sessions)
    for rule in options.faults:
        sandbox.faults.inject(**rule)
    if options.latency is not None:
        sandbox.faults.latency(options.latency)
    return sandbox


@pytest.fixture
async def coupontools_client(coupontools_sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    """An ``AsyncClient`` on this test's ``coupontools_sandbox``, closed after the test."""
    async with coupontools_sandbox.client() as client:
        yield client
