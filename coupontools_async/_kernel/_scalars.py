"""How loose wire values become Python values: the one place these rules live.

Used by the generated decoders and by the client's cattrs converter alike.

- v3 numbers and flags arrive as strings (``"8"``, ``"1"``); ``""`` means "not set";
- a fraction where a whole number is expected is an error, never truncated;
- timestamps come in several layouts and are returned aware, in UTC when they carry no
  zone (the spec's ``x-assumption``);
- PHP's ``[]`` where an object is expected means absent, and ``{}`` where a list is
  expected means empty; but an item of a list of models that is not an object is an
  error (a ``None`` inside a list of models would break every caller's loop);
- keys a model does not know are kept, as they came, in its ``extra_fields``; the first
  time a process meets one (per model and key) it is logged once at INFO on
  ``coupontools_async.drift``, naming the model and the key, never the value.
"""

from __future__ import annotations

import enum
import gc
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from itertools import filterfalse
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = [
    "DecodeError",
    "enum_member",
    "extras",
    "model_seq",
    "not_an_object",
    "parse_datetime",
    "required",
    "seq",
    "str_dict",
    "to_bool",
    "to_date",
    "to_datetime",
    "to_float",
    "to_int",
    "to_optional_str",
    "to_str",
]

T = TypeVar("T")
UTC = timezone.utc
_EMPTY = ("", "0000-00-00", "0000-00-00 00:00:00")
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})
_fromisoformat = datetime.fromisoformat

drift_log = logging.getLogger("coupontools_async.drift")
"""Where the first unknown key of each model is reported (INFO)."""
DRIFT_MEMORY = 1000
"""How many (model, key) pairs are remembered: a server inventing keys on every answer
must not grow memory or flood the log; past this, one line says logging stopped."""
_drift_seen: set[tuple[str, str]] = set()
_drift_keys: dict[str, set[Any]] = {}
"""The same pairs by model: one subset test per object tells whether any key is new."""
_KEY_SHOWN = 60


class DecodeError(ValueError):
    """A value that cannot become the type the spec gives it."""


def to_int(value: Any) -> int | None:
    """A whole number from an int, a numeric string or a whole float; "" is None."""
    if value.__class__ is int:
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text in _EMPTY:
            return None
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise DecodeError(f"{text!r} is not a number") from None
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise DecodeError(f"{value!r} is not a whole number")
    if isinstance(value, int):  # bool
        return int(value)
    if value is None:
        return None
    raise DecodeError(f"{value!r} is not a whole number")


def to_float(value: Any) -> float | None:
    """A number from an int, a float or a numeric string; "" is None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise DecodeError(f"{value!r} is not a number") from None
    if value is None:
        return None
    raise DecodeError(f"{value!r} is not a number")


def to_bool(value: Any) -> bool | None:
    """A flag from a bool, 0/1 or "1"/"0"/"true"/"yes"...; "" is None."""
    if value is True or value is False:
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if not text:
            return None
    elif isinstance(value, int) and value in (0, 1):
        return bool(value)
    elif value is None:
        return None
    raise DecodeError(f"{value!r} is not a flag")


def to_str(value: Any) -> str:
    """Text; numbers become their text, flags "1"/"0" (a required text keeps "")."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    raise DecodeError(f"{value!r} is not text")


def to_optional_str(value: Any) -> str | None:
    """Like :func:`to_str`, but "" and null are None (v3's "not set")."""
    if value.__class__ is str:
        return str(value) or None
    if value is None:
        return None
    return to_str(value)


def parse_datetime(value: Any) -> datetime | None:
    """A timestamp in any layout the docs show, as an aware datetime (or None)."""
    if value.__class__ is str and len(value) == 19 and value[10] in " T":
        # "2024-02-12 12:31:06", the common layout: parsing it with a zone appended is
        # several times faster than parsing it and then setting tzinfo.
        try:
            return _fromisoformat(value + "+00:00")
        except ValueError:
            pass
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError(f"{value!r} is not a timestamp")
    text = value.strip()
    if text in _EMPTY:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif text.endswith(" UTC"):
        text = text[:-4]
    try:
        parsed = _fromisoformat(text)
    except ValueError:
        parsed = _strptime_any(text, value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _strptime_any(text: str, original: Any) -> datetime:
    for layout in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    raise DecodeError(f"{original!r} is not a timestamp")


to_datetime = parse_datetime


def to_date(value: Any) -> date | None:
    """A day from "yyyy-MM-dd" (or any timestamp); "" and "0000-00-00" are None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in _EMPTY:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    parsed = parse_datetime(value)
    return parsed.date() if parsed else None


def required(value: T | None, what: str = "value") -> T:
    """A required field's decoded value: "" or null there is an error, not None."""
    if value is None:
        raise DecodeError(f"a required {what} is empty")
    return value


def enum_member(value: Any, members: Mapping[Any, enum.Enum]) -> Any:
    """The enum member for a value, or the value as text when the docs did not list it."""
    if value is None:
        return None
    member = members.get(value)
    if member is not None:
        return member
    return value if isinstance(value, str) else str(value)


def not_an_object(value: Any, name: str) -> Any:
    """For a value that should have been an object: None for PHP's empty ``[]``/"", else raise."""
    if value == [] or value == "":
        return None
    raise DecodeError(f"expected an object for {name}, got {type(value).__name__}")


def _as_list(value: Any) -> Any:
    if value.__class__ is list:
        return value
    if value == {} or value == "":
        return []
    if isinstance(value, dict):
        return list(value.values())
    if not isinstance(value, (list, tuple)):
        raise DecodeError(f"expected a list, got {type(value).__name__}")
    return value


def seq(value: Any, decode: Callable[[Any], T]) -> list[T]:
    """A list through an item decoder (``{}`` is empty, a PHP ``{"0": ...}`` a list)."""
    return [decode(item) for item in _as_list(value)]


PAUSE_GC_FROM = 512
"""A list of at least this many models is decoded with the cyclic garbage collector paused.

Building thousands of models runs the collector dozens of times, and each run walks the
models built so far, none of which can be garbage yet (the list being built holds them):
about an eighth of a 5,000-user page's decoding time. Paused, not turned off: it runs as
usual as soon as the list is built (or its decoding failed), and a collector someone else
disabled stays disabled."""


def model_seq(value: Any, decode: Callable[[Any], T], name: str) -> list[T]:
    """A list of models: like :func:`seq`, but an item that is not an object (PHP's ``[]``
    or ``""``, a number) is an error naming its index, never a ``None`` in the list."""
    items = value if value.__class__ is list else _as_list(value)
    if len(items) < PAUSE_GC_FROM or not gc.isenabled():
        return _models(items, decode, name)
    gc.disable()
    try:
        return _models(items, decode, name)
    finally:
        gc.enable()


def _models(items: Any, decode: Callable[[Any], T], name: str) -> list[T]:
    return [
        decode(item) if item.__class__ is dict else _not_an_item(items, item, name)
        for item in items
    ]


def _not_an_item(items: Any, item: Any, name: str) -> Any:
    index = next(i for i, x in enumerate(items) if x is item)
    shown = repr(item) if item in ([], "", {}) else type(item).__name__
    raise DecodeError(f"item {index} of a list of {name} is not an object ({shown})")


def extras(data: Mapping[str, Any], known: frozenset[str], name: str) -> Mapping[str, Any]:
    """The keys of ``data`` not in ``known``, in their order, as a read-only mapping.

    Logs each (model, key) pair the first time this process sees it.
    """
    # The set difference runs in C; most objects have one unknown key, taken as it is,
    # and only several need the walk over the keys that keeps their order.
    unknown = data.keys() - known
    if len(unknown) == 1:
        found = {key: data[key] for key in unknown}
    else:
        found = {key: data[key] for key in filterfalse(known.__contains__, data)}
    seen = _drift_keys.get(name)
    if seen is None or not unknown <= seen:
        for key in found:
            if (name, key) not in _drift_seen:
                _note_drift(name, key)
    return MappingProxyType(found)


def _note_drift(name: str, key: Any) -> None:
    if len(_drift_seen) >= DRIFT_MEMORY:
        if len(_drift_seen) == DRIFT_MEMORY:
            _drift_seen.add(("", ""))  # marks "said so": the line below is logged once
            drift_log.info(
                "%d unknown fields seen; further ones are kept but not logged", DRIFT_MEMORY
            )
        return
    _drift_seen.add((name, key))
    _drift_keys.setdefault(name, set()).add(key)
    text = str(key)
    if len(text) > _KEY_SHOWN:
        text = text[: _KEY_SHOWN - 1] + "…"
    # The key is repr()'d (a newline cannot forge a log line); the value is never logged.
    drift_log.info(
        "%s: unknown field %r (the API sends more than the spec knows; kept in extra_fields)",
        name,
        text,
    )


def str_dict(value: Any) -> dict[str, str]:
    """A free-form object of texts (landing-page form data)."""
    if value == [] or value == "":
        return {}
    if not isinstance(value, dict):
        raise DecodeError(f"expected an object, got {type(value).__name__}")
    return {str(k): to_str(v) for k, v in value.items() if v is not None}
