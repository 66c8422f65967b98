"""The one scrubber: every text on its way into an exception, a log line or a terminal.

Clients register their credentials here when they are built; :func:`scrub` replaces
every registered value, in every form a server or a library may echo it in (as given,
JSON-escaped, PHP-escaped, percent-encoded), with ``[redacted]``. The registry holds
the values only while the client's credentials object lives.

:func:`printable` is the other half of output hygiene: control characters of text that
came from a server or a payload are shown as escapes, never sent to a terminal raw.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from urllib.parse import quote

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "ScrubFilter",
    "install_log_filter",
    "printable",
    "register",
    "scrub",
]

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
"""Shorter values are not scrubbed: they would be ordinary words of the library's own
messages (a secret of ``"secret"`` would redact "no client secret: ..."), and such a
value protects nothing anyway."""

_registry: weakref.WeakKeyDictionary[object, tuple[str, ...]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def _forms(value: str) -> set[str]:
    as_json = json.dumps(value)[1:-1]
    return {value, value.strip(), as_json, as_json.replace("/", "\\/"), quote(value, safe="")}


def register(owner: object, *values: str) -> None:
    """Scrub ``values`` from every text for as long as ``owner`` lives."""
    global _pattern
    forms = {f for v in values for f in _forms(v) if len(f) >= MIN_SECRET_LENGTH}
    with _lock:
        _registry[owner] = tuple(forms)
        _pattern = None
    weakref.finalize(owner, _forget)


def _forget() -> None:
    # Runs from the garbage collector, maybe while this thread holds _lock: no lock.
    # A pattern being built concurrently may still hold the dead values: harmless.
    global _pattern
    _pattern = None


def _current() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None:
            forms = {f for values in list(_registry.values()) for f in values}
            if not forms:
                return None
            # Longest first, so a value that contains another is replaced whole; then
            # the values an excerpt cut short ("csecret-AT…"), which give most of it away.
            alternatives = sorted(forms, key=len, reverse=True)
            cut = [_cut_short(f) for f in alternatives]
            _pattern = re.compile("|".join([*map(re.escape, alternatives), *cut]))
        return _pattern


_CUT_PREFIX = 4
"""A cut-short value is scrubbed from its first few characters on."""


def _cut_short(value: str) -> str:
    """A pattern for a prefix of ``value`` that ends the text or an ellipsis."""
    head, rest = value[:_CUT_PREFIX], value[_CUT_PREFIX:]
    nested = "".join(f"(?:{re.escape(c)}" for c in rest) + ")?" * len(rest)
    return f"{re.escape(head)}{nested}(?=…|\\.\\.\\.|\\Z)"


def scrub(text: str) -> str:
    """``text`` with every registered credential replaced by ``[redacted]``."""
    pattern = _current()
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


# C0 controls, DEL and C1 controls: ESC sequences recolour, retitle or rewrite a terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` safe for a terminal: control characters shown as ``\\x1b``-style escapes.

    With ``newlines=False`` line feeds and tabs are escaped too (one-line output).
    """
    pattern = _CONTROL if newlines else _ONE_LINE
    return pattern.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs each record's formatted message (and its traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not format: the handler reports that
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            cleaned = scrub(text)
            if cleaned != text:
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg}\n{cleaned}"
        return True


def install_log_filter(*names: str) -> None:
    """Attach one :class:`ScrubFilter` to each named logger (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())
