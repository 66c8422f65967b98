"""The one cattrs converter that turns JSON into models and models into JSON.

Built once at import. It is lenient where the real API is loose and strict where
leniency would lose data:

- wire names that are not Python names (``ID``, ``userId``, ``E-mail``) come from each
  field's ``metadata["wire"]``, which codegen writes;
- unknown keys are ignored, so a new server field never breaks a client;
- v3 numbers and flags that arrive as strings (``"8"``, ``"1"``) become ints and bools,
  ``""`` becomes ``None`` (for optional text too), but ``"1.9"`` for a whole number is an error, never ``1``;
- timestamps in every layout the docs show parse, as timezone-aware UTC datetimes
  (the docs give no zone for most of them; see the spec's ``x-assumption``);
- an enum value the docs did not list decodes as a plain ``str``;
- PHP's empty ``[]`` where an object is expected decodes as ``None`` (absent), and
  ``{}`` where a list is expected as ``[]``.

Validation details are off (``detailed_validation=False``): decoding is on the hot path.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any, TypeVar

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

__all__ = ["DecodeError", "converter", "structure", "unstructure"]

T = TypeVar("T")
UTC = timezone.utc
_EMPTY = ("", "0000-00-00", "0000-00-00 00:00:00")
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


class DecodeError(ValueError):
    """A value that cannot become the type the spec gives it."""


def _int(value: Any, _: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in _EMPTY:
            return None
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise DecodeError(f"{value!r} is not a number") from None
            value = number
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise DecodeError(f"{value!r} is not a whole number")
    if isinstance(value, bool):
        return int(value)
    raise DecodeError(f"{value!r} is not a whole number")


def _float(value: Any, _: Any) -> float | None:
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
    raise DecodeError(f"{value!r} is not a number")


def _bool(value: Any, _: Any) -> bool | None:
    if value is True or value is False:
        return value
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
    raise DecodeError(f"{value!r} is not a flag")


def _str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    raise DecodeError(f"{value!r} is not text")


def _optional_str(value: Any, _: Any) -> str | None:
    if value.__class__ is str:  # the hot path: one check, no call
        return value or None
    if value is None:
        return None
    return _str(value, _)


def parse_datetime(value: Any) -> datetime | None:
    """A timestamp in any layout the docs show, as an aware UTC datetime (or None)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise DecodeError(f"{value!r} is not a timestamp")
    if len(value) == 19 and value[10] in " T":
        # "2024-02-12 12:31:06", the common layout: parsing it with a zone appended is
        # several times faster than parsing and then setting tzinfo.
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
    text = value.strip()
    if text in _EMPTY:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
        if "/" in text:
            text = text[:-6]
    try:
        parsed = datetime.fromisoformat(text)
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


def _datetime(value: Any, _: Any) -> datetime | None:
    return parse_datetime(value)


def _date(value: Any, _: Any) -> date | None:
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


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _enum_members(tp: Any) -> list[Any] | None:
    """For ``E | str`` (optionally ``| None``): the Enum class, else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    enums = [a for a in args if _is_enum(a)]
    if len(enums) == 1 and len(args) == 2 and str in args:
        return enums
    return None


def _lenient_enum(cls: type[enum.Enum]) -> Callable[[Any, Any], Any]:
    members = {m.value: m for m in cls}

    def structure(value: Any, _: Any) -> Any:
        if value is None:
            return None
        member = members.get(value)
        if member is not None:
            return member
        return value if isinstance(value, str) else str(value)

    return structure


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _structure_attrs(cls: type[Any]) -> Callable[[Any, Any], Any]:
    attrs.resolve_types(cls)
    renames: dict[str, Any] = {
        f.name: override(rename=f.metadata["wire"])
        for f in attrs.fields(cls)
        if "wire" in f.metadata
    }
    inner = make_dict_structure_fn(
        cls,
        converter,
        _cattrs_forbid_extra_keys=False,
        _cattrs_detailed_validation=False,
        **renames,
    )

    def structure(value: Any, tp: Any) -> Any:
        if value.__class__ is not dict:
            if value == [] or value == "":  # PHP's json_encode of an empty array: absent
                return None
            if not isinstance(value, dict):
                raise DecodeError(
                    f"expected an object for {cls.__name__}, got {type(value).__name__}"
                )
        return inner(value, tp)

    return structure


def _unstructure_attrs(cls: type[Any]) -> Callable[[Any], Any]:
    attrs.resolve_types(cls)
    renames: dict[str, Any] = {
        f.name: override(rename=f.metadata["wire"])
        for f in attrs.fields(cls)
        if "wire" in f.metadata
    }
    return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **renames)


def _structure_list(tp: Any) -> Callable[[Any, Any], Any]:
    (item,) = typing.get_args(tp) or (Any,)
    item_hook = converter.get_structure_hook(item)

    def structure(value: Any, _: Any) -> list[Any]:
        if value.__class__ is not list:
            if value == {} or value == "":  # PHP's json_encode of an empty array/object
                return []
            if isinstance(value, dict):  # a PHP array with keys "0", "1", ...
                value = list(value.values())
            elif not isinstance(value, (list, tuple)):
                raise DecodeError(f"expected a list, got {type(value).__name__}")
        return [item_hook(v, item) for v in value]

    return structure


def _optional_of(tp: Any) -> Any:
    """``X`` for ``X | None`` (exactly two members), else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(tp)
    if len(args) != 2 or type(None) not in args:
        return None
    return args[0] if args[1] is type(None) else args[1]


def _structure_optional(tp: Any) -> Callable[[Any, Any], Any]:
    # cattrs' own Optional handling dispatches on every call; resolve the hook once.
    inner = _optional_of(tp)
    hook = converter.get_structure_hook(inner)

    def structure(value: Any, _: Any) -> Any:
        return None if value is None else hook(value, inner)

    return structure


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list or tp is list


converter = Converter(detailed_validation=False, forbid_extra_keys=False)
"""The converter every model goes through. Built once; reuse it."""

converter.register_structure_hook(int, _int)
converter.register_structure_hook(float, _float)
converter.register_structure_hook(bool, _bool)
converter.register_structure_hook(str, _str)
# v3 sends "" for an unset optional text; only a required text keeps "".
converter.register_structure_hook(str | None, _optional_str)
converter.register_structure_hook(typing.Optional[str], _optional_str)  # noqa: UP045
converter.register_structure_hook(datetime, _datetime)
converter.register_structure_hook(date, _date)
converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_unstructure_hook(date, date.isoformat)
converter.register_structure_hook_factory(_is_enum, _lenient_enum)
converter.register_structure_hook_factory(
    lambda tp: _enum_members(tp) is not None,
    lambda tp: _lenient_enum(_enum_members(tp)[0]),  # type: ignore[index]
)
converter.register_unstructure_hook_factory(
    lambda tp: _is_enum(tp) or _enum_members(tp) is not None,
    lambda tp: _enum_value,
)
converter.register_structure_hook_factory(_is_list, _structure_list)
converter.register_structure_hook_factory(
    # Optional[str] keeps its own hook ("" is None); enum unions theirs.
    lambda tp: _optional_of(tp) not in (None, str) and _enum_members(tp) is None,
    _structure_optional,
)
converter.register_structure_hook_factory(attrs.has, _structure_attrs)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_attrs)


def structure(data: Any, tp: type[T]) -> T:
    """Decode JSON-shaped data into ``tp`` (a model, ``list[Model]``, ...)."""
    return converter.structure(data, tp)


def unstructure(obj: Any) -> Any:
    """Encode a model (or a structure of models) into JSON-shaped data, wire names, no Nones."""
    return converter.unstructure(obj)
