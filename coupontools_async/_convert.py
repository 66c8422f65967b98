"""The one cattrs converter that turns JSON into models and models into JSON.

Built once at import. It is lenient where the real API is loose and strict where
leniency would lose data (the rules live in ``_generated/_scalars.py``):

- wire names that are not Python names (``ID``, ``userId``, ``E-mail``) are kept in each
  field's ``metadata["wire"]``, which codegen writes;
- unknown keys never break a client: they are kept, as they came, in the model's
  read-only ``extra_fields`` (not in ``==`` or ``repr``), and the first of each model is
  logged once at INFO on ``coupontools_async.drift`` (model and key, never the value);
- v3 numbers and flags that arrive as strings (``"8"``, ``"1"``) become ints and bools,
  ``""`` becomes ``None`` (for optional text too), but ``"1.9"`` for a whole number is
  an error, never ``1``;
- timestamps in every layout the docs show parse, as timezone-aware UTC datetimes
  (the docs give no zone for most of them; see the spec's ``x-assumption``);
- an enum value the docs did not list decodes as a plain ``str``;
- PHP's empty ``[]`` where an object is expected decodes as ``None`` (absent), and
  ``{}`` where a list is expected as ``[]``; but an item of a list of models that is
  not an object is refused (``DecodeError``, an ``APIError`` from the client), never a
  ``None`` in the list.

Models decode through the decoders codegen writes for each of them
(``_generated/decoders.py``), registered here as the converter's hooks: the same rules,
with the common case inline, about twice as fast as cattrs' generic functions (see
bench/RESULTS.md). Everything else (lists, unions, unstructuring) is cattrs.
Validation details are off (``detailed_validation=False``): decoding is on the hot path.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._generated.decoders import DECODERS
from ._kernel._scalars import (
    DecodeError,
    enum_member,
    extras,
    model_seq,
    parse_datetime,
    required,
    seq,
    str_dict,
    to_bool,
    to_date,
    to_float,
    to_int,
    to_optional_str,
    to_str,
)

__all__ = [
    "DecodeError",
    "build_converter",
    "converter",
    "parse_datetime",
    "structure",
    "unstructure",
]

T = TypeVar("T")


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _enum_of(tp: Any) -> Any:
    """For ``E | str`` (optionally ``| None``): the Enum class, else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    enums = [a for a in args if _is_enum(a)]
    if len(enums) == 1 and len(args) == 2 and str in args:
        return enums[0]
    return None


def _lenient_enum(cls: type[enum.Enum]) -> Callable[[Any, Any], Any]:
    members = {m.value: m for m in cls}
    return lambda value, _: enum_member(value, members)


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _wire_renames(cls: type[Any]) -> dict[str, Any]:
    attrs.resolve_types(cls)
    return {
        f.name: override(rename=f.metadata["wire"])
        for f in attrs.fields(cls)
        if "wire" in f.metadata
    }


def _wire_keys(cls: type[Any]) -> frozenset[str]:
    return frozenset(f.metadata.get("wire", f.name) for f in attrs.fields(cls))


def _optional_of(tp: Any) -> Any:
    """``X`` for ``X | None`` (exactly two members), else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(tp)
    if len(args) != 2 or type(None) not in args:
        return None
    return args[0] if args[1] is type(None) else args[1]


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list or tp is list


_SCALARS = (None, str, int, float, bool, datetime, date)


def _scalar(fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda value, _: fn(value)


def _required_scalar(fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda value, _: required(fn(value))


def build_converter(*, generated_decoders: bool = True) -> Converter:
    """The converter with every rule registered (without the generated decoders, models
    go through cattrs' generic functions: the tests compare both)."""
    conv = Converter(detailed_validation=False, forbid_extra_keys=False)

    def structure_list(tp: Any) -> Callable[[Any, Any], Any]:
        (item,) = typing.get_args(tp) or (Any,)
        decoder = DECODERS.get(item) if generated_decoders else None
        if decoder is not None:  # one call per item, no adapter
            name = item.__name__
            return lambda value, _: model_seq(value, decoder, name)
        item_hook = conv.get_structure_hook(item)
        if attrs.has(item):
            return lambda value, _: model_seq(value, lambda v: item_hook(v, item), item.__name__)
        return lambda value, _: seq(value, lambda v: item_hook(v, item))

    def structure_optional(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs' own Optional handling dispatches on every call; resolve the hook once.
        inner = _optional_of(tp)
        hook = conv.get_structure_hook(inner)
        return lambda value, _: None if value is None else hook(value, inner)

    def structure_attrs(cls: type[Any]) -> Callable[[Any, Any], Any]:
        inner = make_dict_structure_fn(
            cls,
            conv,
            _cattrs_forbid_extra_keys=False,
            _cattrs_detailed_validation=False,
            **_wire_renames(cls),
        )
        known = _wire_keys(cls)
        name = cls.__name__
        # A list field with `default: []` in the spec: null on the wire is the empty list.
        empty_lists = {
            f.metadata.get("wire", f.name)
            for f in attrs.fields(cls)
            if f.default == attrs.Factory(list)
        }

        def structure(value: Any, tp: Any) -> Any:
            if value.__class__ is not dict:
                if value == [] or value == "":  # PHP's json_encode of an empty array
                    return None
                raise DecodeError(f"expected an object for {name}, got {type(value).__name__}")
            wire = value
            if empty_lists:
                wire = {k: v for k, v in value.items() if v is not None or k not in empty_lists}
            model = inner(wire, tp)
            if not value.keys() <= known:
                object.__setattr__(model, "_extra_fields", extras(value, known, name))
            return model

        return structure

    def unstructure_attrs(cls: type[Any]) -> Callable[[Any], Any]:
        return make_dict_unstructure_fn(
            cls, conv, _cattrs_omit_if_default=True, **_wire_renames(cls)
        )

    # A required scalar that arrives empty is an error; an optional one is None.
    for tp, lenient in (
        (int, to_int),
        (float, to_float),
        (bool, to_bool),
        (datetime, parse_datetime),
        (date, to_date),
    ):
        conv.register_structure_hook(tp, _required_scalar(lenient))
        conv.register_structure_hook(tp | None, _scalar(lenient))
    conv.register_structure_hook(str, _scalar(to_str))
    conv.register_structure_hook_func(lambda tp: tp == dict[str, str], _scalar(str_dict))
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook_factory(_is_enum, _lenient_enum)
    conv.register_structure_hook_factory(
        lambda tp: _enum_of(tp) is not None, lambda tp: _lenient_enum(_enum_of(tp))
    )
    conv.register_unstructure_hook_factory(
        lambda tp: _is_enum(tp) or _enum_of(tp) is not None, lambda tp: _enum_value
    )
    conv.register_structure_hook_factory(_is_list, structure_list)
    conv.register_structure_hook_factory(
        # Optional[str] has its own rule ("" is None); enum unions theirs.
        lambda tp: _optional_of(tp) not in _SCALARS and _enum_of(tp) is None,
        structure_optional,
    )
    conv.register_structure_hook(str | None, _scalar(to_optional_str))
    conv.register_structure_hook(typing.Optional[str], _scalar(to_optional_str))  # noqa: UP045
    conv.register_structure_hook_factory(attrs.has, structure_attrs)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_attrs)
    if generated_decoders:
        for model, decoder in DECODERS.items():
            conv.register_structure_hook(model, decoder)
    return conv


converter = build_converter()
"""The converter every model goes through. Built once; reuse it."""


def structure(data: Any, tp: type[T]) -> T:
    """Decode JSON-shaped data into ``tp`` (a model, ``list[Model]``, ...)."""
    return converter.structure(data, tp)


def unstructure(obj: Any) -> Any:
    """Encode a model (or a structure of models) into JSON-shaped data, wire names, no Nones."""
    return converter.unstructure(obj)
