"""How loose wire values become Python values: the one place these rules live.

Copied verbatim into ``coupontools_async/_generated/_scalars.py`` by ``python -m codegen``;
used by the generated decoders and by the client's cattrs converter alike.

- v3 numbers and flags arrive as strings (``"8"``, ``"1"``); ``""`` means "not set";
- a fraction where a whole number is expected is an error, never truncated;
- timestamps come in several layouts and are returned aware, in UTC when they carry no
  zone (the spec's ``x-assumption``);
- PHP's ``[]`` where an object is expected means absent, and ``{}`` where a list is
  expected means empty.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from typing import Any, TypeVar

__all__ = [
    "DecodeError",
    "enum_member",
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


def seq(value: Any, decode: Callable[[Any], T]) -> list[T]:
    """A list through an item decoder (``{}`` is empty, a PHP ``{"0": ...}`` a list)."""
    if value.__class__ is not list:
        if value == {} or value == "":
            return []
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, (list, tuple)):
            raise DecodeError(f"expected a list, got {type(value).__name__}")
    return [decode(item) for item in value]


def str_dict(value: Any) -> dict[str, str]:
    """A free-form object of texts (landing-page form data)."""
    if value == [] or value == "":
        return {}
    if not isinstance(value, dict):
        raise DecodeError(f"expected an object, got {type(value).__name__}")
    return {str(k): to_str(v) for k, v in value.items() if v is not None}
