"""Session-wide leak check: no credential the suite used shows in any text it produced.

Registered from ``tests/conftest.py`` (``pytest_plugins = ["tests._leakcheck"]``). For
the whole session it collects:

- every log record that reaches the root logger, formatted (with its traceback), with
  the ``coupontools_async`` and ``httpx`` loggers set to DEBUG so their per-request
  lines are produced too;
- ``str``, ``repr`` and ``vars`` of every ``CoupontoolsError`` created (its
  ``__init__`` is wrapped), whether a test let it fail the test or caught it;
- ``repr`` and ``repr(vars(...))`` of every ``AsyncClient`` constructed (its
  ``__init__`` is wrapped), and the credentials it was given or took from the
  environment (what is searched for);
- the text of every failure report (traceback and captured output).

At the end of the session every collected text is searched for every credential; a
hit fails the session (exit status 1) and is printed with its place and context, the
credential itself masked. Credentials shorter than :data:`MIN_LENGTH` are not searched
for: values such as ``"id"`` or ``"secret"`` are ordinary words of the library's own
messages ("no client secret: pass client_secret=..."), so a hit would prove nothing.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import logging
import os
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, NamedTuple

import pytest

__all__ = ["MIN_LENGTH", "Captured", "Collector", "Leak", "scan"]

MIN_LENGTH = 8
"""Shortest credential value searched for."""
LOGGERS = ("coupontools_async", "httpx")
"""Loggers set to DEBUG for the session."""
_CONTEXT = 60
_MAX_REPORTED = 20
_ENV = ("COUPONTOOLS_CLIENT_ID", "COUPONTOOLS_CLIENT_SECRET")
_STRAY = " \t\r\n\x0b\x0c\x00"


class Captured(NamedTuple):
    """One collected text: what produced it, during which test, and the text."""

    source: str
    where: str
    text: str


class Leak(NamedTuple):
    """A credential found in a collected text."""

    source: str
    where: str
    snippet: str
    """The text around the hit, every credential in it masked."""
    length: int
    """Length of the credential found (the value itself is never shown)."""

    def describe(self) -> str:
        return (
            f"credential ({self.length} characters) in {self.source} during {self.where}: "
            f"...{self.snippet}..."
        )


def _mask(text: str, credentials: Iterable[str]) -> str:
    for value in sorted(credentials, key=len, reverse=True):
        text = text.replace(value, f"<CREDENTIAL:{len(value)}>")
    return text


def scan(captured: Sequence[Captured], credentials: Iterable[str]) -> list[Leak]:
    """Every place where a credential (of at least :data:`MIN_LENGTH` characters) occurs."""
    wanted = sorted({c for c in credentials if len(c) >= MIN_LENGTH}, key=len, reverse=True)
    if not wanted or not captured:
        return []
    # One big string: a credential is searched for once, not once per text. A NUL between
    # texts keeps a hit from spanning two of them (no credential holds a NUL).
    starts: list[int] = []
    position = 0
    for item in captured:
        starts.append(position)
        position += len(item.text) + 1
    corpus = "\x00".join(item.text for item in captured)
    leaks: list[Leak] = []
    for value in wanted:
        found = corpus.find(value)
        while found != -1 and len(leaks) < _MAX_REPORTED:
            index = bisect.bisect_right(starts, found) - 1
            item = captured[index]
            offset = found - starts[index]
            window = item.text[max(0, offset - _CONTEXT) : offset + len(value) + _CONTEXT]
            leaks.append(Leak(item.source, item.where, _mask(window, wanted), len(value)))
            found = corpus.find(value, found + len(value))
    return leaks


class Collector:
    """What the session produced, and the credentials it used."""

    def __init__(self) -> None:
        self.captured: list[Captured] = []
        self.credentials: set[str] = set()
        self.where = "<collection>"
        self.leaks: list[Leak] = []

    def add(self, source: str, text: str) -> None:
        self.captured.append(Captured(source, self.where, text))

    def credential(self, value: object) -> None:
        if isinstance(value, str) and value:
            self.credentials.add(value)
            # What the client sends of a value with stray characters around it (a CRLF
            # .env file): the stripped form is the one that could leak.
            self.credentials.add(value.strip(_STRAY))
            self.credentials.discard("")

    def scan(self) -> list[Leak]:
        self.leaks = scan(self.captured, self.credentials)
        return self.leaks

    @property
    def checked(self) -> int:
        return sum(1 for c in self.credentials if len(c) >= MIN_LENGTH)


class _Handler(logging.Handler):
    def __init__(self, collector: Collector) -> None:
        super().__init__(logging.DEBUG)
        self.collector = collector
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record whose arguments do not format: keep its parts
            text = f"{record.msg!r} % {record.args!r}"
        self.collector.add(f"log {record.name}", text)


_STATE: dict[str, Any] = {}


def _wrap_init(
    cls: type[Any], after: Callable[[Any, tuple[Any, ...], dict[str, Any]], None]
) -> None:
    original = cls.__init__
    own = "__init__" in cls.__dict__

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            original(self, *args, **kwargs)
        finally:
            # Recording must never change what the library does.
            with contextlib.suppress(Exception):
                after(self, args, kwargs)

    _STATE.setdefault("restore", []).append((cls, original if own else None))
    setattr(cls, "__init__", __init__)  # noqa: B010 - mypy refuses assigning to a method


def _install(collector: Collector) -> None:
    handler = _Handler(collector)
    root = logging.getLogger()
    root.addHandler(handler)
    _STATE["handler"] = handler
    _STATE["levels"] = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in _ENV:
        collector.credential(os.environ.get(name))

    from coupontools_async import AsyncClient, CoupontoolsError

    def client_made(client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for value in (*args[:2], kwargs.get("client_id"), kwargs.get("client_secret")):
            collector.credential(value)
        credentials = getattr(client, "_credentials", None)
        for name in ("_id", "_secret"):
            collector.credential(getattr(credentials, name, None))
        collector.add("repr AsyncClient", repr(client))
        collector.add("vars AsyncClient", repr(vars(client)))

    def error_made(error: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        collector.add(f"exception {type(error).__name__}", f"{error}\n{error!r}\n{vars(error)!r}")

    _wrap_init(AsyncClient, client_made)
    _wrap_init(CoupontoolsError, error_made)


def _uninstall() -> None:
    handler = _STATE.pop("handler", None)
    if handler is not None:
        logging.getLogger().removeHandler(handler)
    for name, level in _STATE.pop("levels", {}).items():
        logging.getLogger(name).setLevel(level)
    for cls, original in reversed(_STATE.pop("restore", [])):
        if original is None:
            delattr(cls, "__init__")  # it was inherited
        else:
            setattr(cls, "__init__", original)  # noqa: B010


# ------------------------------------------------------------------------------ hooks

_KEY = pytest.StashKey[Collector]()


def pytest_configure(config: pytest.Config) -> None:
    collector = Collector()
    config.stash[_KEY] = collector
    _install(collector)


def pytest_unconfigure(config: pytest.Config) -> None:
    _uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    collector = item.config.stash[_KEY]
    collector.where = item.nodeid
    try:
        return (yield)
    finally:
        collector.where = "<between tests>"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        collector = item.config.stash[_KEY]
        collector.add(f"failure report ({report.when})", report.longreprtext)
        for title, content in report.sections:
            collector.add(f"failure report: {title}", content)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    collector = session.config.stash.get(_KEY, None)
    if collector is not None and collector.scan():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    collector = terminalreporter.config.stash.get(_KEY, None)
    if collector is None:
        return
    skipped = len(collector.credentials) - collector.checked
    summary = (
        f"leak check: {len(collector.captured)} texts searched for {collector.checked} "
        f"credentials ({skipped} shorter than {MIN_LENGTH} characters not searched)"
    )
    if not collector.leaks:
        terminalreporter.write_line(f"{summary}: none found")
        return
    terminalreporter.section("credential leaks", sep="=", red=True, bold=True)
    terminalreporter.write_line(f"{summary}: {len(collector.leaks)} found", red=True)
    for leak in collector.leaks:
        terminalreporter.write_line(leak.describe(), red=True)
