"""Check and convert the arguments of a call against the spec's rules before sending.

Everything the client sends goes through :func:`prepare` first: path ids, body fields,
nested request models (``pagination``, ``filter``) and the rows of a bulk create. It
raises :class:`~coupontools_async.errors.ValidationError` naming the parameter (its
wire name, dotted for nested fields: ``pagination.page``, ``users[3].email``) and the
rule it breaks, and returns the JSON-ready body with the documented formats applied:
phone numbers normalised to E.164, dates written in the layouts the API reads.

Messages never quote the value of a parameter whose name holds ``password`` or
``secret``, and quote other values only up to 60 characters.
"""

from __future__ import annotations

import difflib
import enum
import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from types import ModuleType
from typing import Any

import attrs

from ._convert import unstructure
from ._generated import models
from ._generated.rules import MODEL_PARAMS
from ._kernel import Operation, Param
from ._wire import format_date, format_date_minute, format_datetime, json_default
from .errors import ValidationError

__all__ = ["check_region", "encode", "normalize_e164", "phone_region", "prepare", "prepare_item"]

_MAX_SHOWN = 60
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_PHONE_SEPARATORS = re.compile(r"[\s\-.()]")
_EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[^@\s]+)")
_YMD = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_YMD_HM = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2})")
_YMD_HMS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (True or False)",
    "array": "a list",
    "object": "a mapping",
}


_INT64 = 2**63

# ----------------------------------------------------------------------- public API


def prepare(
    op: Operation[Any],
    *,
    path: Mapping[str, Any] | None = None,
    body: Any = None,
    default_region: str | None = None,
) -> tuple[dict[str, str], Any]:
    """Validate one call of ``op`` and return ``(path values, wire body)``.

    ``path`` maps placeholders to ids; they come back as strings ready for
    ``op.path.format_map``. ``body`` is a mapping of wire name to value (None means
    "not given" and is dropped) or, for a bulk operation (``op.body_param``), the list
    of items. The wire body is a JSON-ready dict (or list), or None when there is
    nothing to send.

    Dates: ``ct-date-or-minute`` values (session list bounds, which the docs give in
    UTC) are converted to UTC when the datetime is aware. ``ct-datetime`` values (the
    single-use ``expiry_date``, read "in the existing timezone from the campaign") are
    sent as the wall-clock time given, whatever the tzinfo: convert an aware datetime
    to the campaign's zone first.

    Raises:
        ValidationError: a value breaks a documented rule; ``.param`` names it and
            ``.rule`` says which rule (``required``, ``unknown``, ``type``, ``enum``,
            ``max_length``, ``pattern``, ``e164``, ``require_one_of``, ...).

    ``default_region`` (``"BE"``, checked by :func:`check_region`): phone numbers are
    read with ``phonenumbers``, national ones as numbers of that region.
    """
    if default_region is not None:
        with phone_region(default_region):
            return prepare(op, path=path, body=body)
    rules = _op_rules(op)
    path_values = _check_path(rules, path) if rules.path_params or path else {}
    if body is None:
        _check_presence(rules, {})
        return path_values, None
    if rules.body_param is not None:
        return path_values, _check_value(rules.body_param, body, "")
    if not isinstance(body, Mapping):
        raise ValidationError(
            f"the body of {op.id} must be a mapping of parameters, got {type(body).__name__}",
            rule="type",
        )
    wire_body = _check_mapping(rules.body, body, "")
    _check_presence(rules, wire_body)
    return path_values, wire_body or None


def encode(
    op: Operation[Any], *, path: Mapping[str, Any] | None = None, body: Any = None
) -> tuple[dict[str, str], Any]:
    """Like :func:`prepare`, refusing nothing (``ct.with_options(validate=False)``).

    Values still take their wire form (None dropped, enums as their values, dates and
    datetimes in the spec's layouts, models as wire-named dicts); what the spec would
    refuse (an unknown field, a wrong type, a bad phone number, a missing required
    field) is sent as given, for the server to judge.
    """
    rules = _op_rules(op)
    path_wires = {p.wire for p in rules.path_params}
    path_values = {k: str(_encode_any(v)) for k, v in (path or {}).items() if k in path_wires}
    if body is None:
        return path_values, None
    if rules.body_param is not None:
        return path_values, _encode_value(rules.body_param, body)
    if isinstance(body, Mapping):
        return path_values, _encode_object(rules.body, body) or None
    return path_values, _encode_any(body)


def prepare_item(
    model_name: str, item: Any, *, default_region: str | None = None
) -> dict[str, Any]:
    """Validate one request model (``"WalletUserInput"``), given as model or mapping.

    Returns its wire dict, with formats applied, as a bulk create sends it; raises
    :class:`~coupontools_async.errors.ValidationError` naming the field.
    ``default_region`` as for :func:`prepare`.
    """
    if default_region is not None:
        with phone_region(default_region):
            return prepare_item(model_name, item)
    return _check_object(_model_rules_by_name(model_name), item, "", model_name)


def normalize_e164(
    value: str, *, param: str | None = None, default_region: str | None = None
) -> str:
    """A phone number in E.164 (``+447911123456``), from a loosely written one.

    Spaces, dashes, dots, parentheses and a ``(0)`` trunk prefix are removed and a
    leading ``00`` becomes ``+``. Without ``default_region`` a national number (no ``+``
    or ``00``) is refused: only the caller knows its country. With it (``"BE"``, needs
    the ``phone`` extra), ``phonenumbers`` reads the number: ``0470 12 34 56`` is
    ``+32470123456``, and a number no country has (``+1 555 0100``) is refused with the
    reason. Raises ``ValidationError`` (rule ``e164``).
    """
    given: object = value  # callers outside mypy's reach pass ints from spreadsheets
    if not isinstance(given, str):
        raise ValidationError(
            _msg(param, f"expected a phone number string, got {_got(param or 'phone', given)}"),
            param=param,
            rule="type",
        )
    if default_region is not None:
        with phone_region(default_region):
            return _e164(given, param)
    return _e164(given, param)


def check_region(region: str) -> str:
    """``region`` as a ``default_region``: a region ``phonenumbers`` knows, upper case.

    Raises ``ValidationError`` (param ``default_region``) when it is not one, or when
    the ``phone`` extra is not installed.
    """
    given: object = region
    if not isinstance(given, str):
        raise _type_error("default_region", "a region code string such as 'BE'", given)
    phonenumbers = _phonenumbers("default_region")
    code = given.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            f"default_region: {given[:_MAX_SHOWN]!r} is not a region code "
            "(two letters, ISO 3166: 'BE', 'FR', 'US', 'GB')",
            param="default_region",
            rule="enum",
        )
    return code


@contextmanager
def phone_region(region: str | None) -> Iterator[None]:
    """Within the block, phone numbers are read with ``phonenumbers`` for ``region``.

    A context variable rather than an argument of every check: the region is one
    setting of the whole call (or import), not of a parameter.
    """
    token = _REGION.set(None if region is None else check_region(region))
    try:
        yield
    finally:
        _REGION.reset(token)


# ------------------------------------------------------------------ per-operation rules


@attrs.frozen
class _Fields:
    """The body parameters of an operation, or the fields of a request model."""

    owner: str
    by_wire: dict[str, Param]
    required: tuple[str, ...]
    model: type[Any] | None = None
    attr_wires: tuple[tuple[str, str], ...] = ()
    """For a model: (attribute name, wire name) of each field."""


@attrs.frozen
class _OpRules:
    op_id: str
    path_params: tuple[Param, ...]
    path_keys: frozenset[str]
    body: _Fields
    body_param: Param | None
    any_of: tuple[tuple[str, ...], ...]
    one_of: tuple[tuple[str, ...], ...]
    exclusive: tuple[tuple[str, ...], ...]


# Keyed by id(): hashing a frozen Operation walks all its params on every call.
_OP_CACHE: dict[int, tuple[Operation[Any], _OpRules]] = {}
_MODEL_CACHE: dict[type[Any], _Fields] = {}


def _op_rules(op: Operation[Any]) -> _OpRules:
    cached = _OP_CACHE.get(id(op))
    if cached is not None and cached[0] is op:
        return cached[1]
    rules = _build_op_rules(op)
    _OP_CACHE[id(op)] = (op, rules)
    return rules


def _build_op_rules(op: Operation[Any]) -> _OpRules:
    path_params = tuple(p for p in op.params if p.location == "path")
    body_params = {p.wire: p for p in op.params if p.location == "body"}
    wire_of = {p.name: p.wire for p in op.params}

    def wires(groups: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(wire_of.get(name, name) for name in group) for group in groups)

    body_param = None
    path_keys = {p.wire for p in path_params}
    if op.body_param is not None:
        body_param = op.param(op.body_param)
        # The generated bulk call also passes the list in ``path``; it is not a path value.
        path_keys.add(body_param.wire)
        path_keys.add(body_param.name)
    return _OpRules(
        op_id=op.id,
        path_params=path_params,
        path_keys=frozenset(path_keys),
        body=_Fields(
            owner=f"parameter of {op.id}",
            by_wire=body_params,
            required=tuple(w for w, p in body_params.items() if p.required),
        ),
        body_param=body_param,
        any_of=wires(op.require_any_of),
        one_of=wires(op.require_one_of),
        exclusive=wires(op.mutually_exclusive),
    )


def _model_rules(cls: type[Any]) -> _Fields:
    cached = _MODEL_CACHE.get(cls)
    if cached is not None:
        return cached
    params = MODEL_PARAMS.get(cls)
    if params is None:
        raise ValueError(f"{cls.__name__} is not a request model (no rules in MODEL_PARAMS)")
    rules = _Fields(
        owner=f"field of {cls.__name__}",
        by_wire={p.wire: p for p in params},
        required=tuple(p.wire for p in params if p.required),
        model=cls,
        attr_wires=tuple((f.name, f.metadata.get("wire", f.name)) for f in attrs.fields(cls)),
    )
    _MODEL_CACHE[cls] = rules
    return rules


def _model_rules_by_name(name: str) -> _Fields:
    cls = getattr(models, name, None)
    if not isinstance(cls, type):
        raise ValueError(f"no request model named {name!r}")
    return _model_rules(cls)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.cache
def _item_param(param: Param) -> Param:
    """What each item of an array parameter must be (wire "" so errors read ``x[3]``)."""
    return Param(
        name=param.name,
        wire="",
        location=param.location,
        required=True,
        type=param.items_type or "",
        ref=param.ref,
    )


# ------------------------------------------------------------------------ checks


def _check_path(rules: _OpRules, path: Mapping[str, Any] | None) -> dict[str, str]:
    given = path or {}
    for key in given:
        if key not in rules.path_keys:
            raise ValidationError(
                f"{_key(key)}: unknown path parameter of {rules.op_id}",
                param=_key(key),
                rule="unknown",
            )
    values: dict[str, str] = {}
    for param in rules.path_params:
        value = given.get(param.wire)
        if value is None:
            raise ValidationError(
                f"{param.wire}: required, but not given", param=param.wire, rule="required"
            )
        values[param.wire] = str(_check_value(param, value, ""))
    return values


def _check_presence(rules: _OpRules, body: Mapping[str, Any]) -> None:
    """Required parameters and the rules about groups of them."""
    for wire in rules.body.required:
        if wire not in body:
            raise ValidationError(f"{wire}: required, but not given", param=wire, rule="required")
    if rules.body_param is not None:
        return
    for group in rules.any_of:
        if not any(w in body for w in group):
            names = ", ".join(group)
            raise ValidationError(
                f"{names}: give at least one of these", param=names, rule="require_any_of"
            )
    for group in rules.one_of:
        given = [w for w in group if w in body]
        if len(given) != 1:
            names = ", ".join(group)
            problem = "none was given" if not given else f"got {', '.join(given)}"
            raise ValidationError(
                f"{names}: give exactly one of these ({problem})",
                param=", ".join(given) if given else names,
                rule="require_one_of",
            )
    for group in rules.exclusive:
        given = [w for w in group if w in body]
        if len(given) > 1:
            names = ", ".join(given)
            raise ValidationError(
                f"{names}: give only one of these, not both", param=names, rule="mutually_exclusive"
            )


def _check_mapping(fields: _Fields, data: Mapping[Any, Any], prefix: str) -> dict[str, Any]:
    return _check_pairs(fields, data.items(), prefix)


def _check_model(fields: _Fields, obj: Any, prefix: str) -> dict[str, Any]:
    # Field by field rather than through unstructure(): a date or datetime field must
    # get the spec's layout for its format, not ISO 8601.
    pairs = ((wire, getattr(obj, attr_name)) for attr_name, wire in fields.attr_wires)
    return _check_pairs(fields, pairs, prefix)


def _check_pairs(fields: _Fields, pairs: Iterable[tuple[Any, Any]], prefix: str) -> dict[str, Any]:
    """Check (wire name, value) pairs of one object: None is left out, unknown or missing
    required names are refused."""
    out: dict[str, Any] = {}
    by_wire = fields.by_wire
    for key, value in pairs:
        if value is None:
            continue
        param = by_wire.get(key)
        if param is None:
            raise _unknown(fields, key, prefix)
        out[key] = _check_value(param, value, prefix)
    for wire in fields.required:
        if wire not in out:
            name = prefix + wire
            raise ValidationError(f"{name}: required, but not given", param=name, rule="required")
    return out


def _check_object(fields: _Fields, value: Any, name: str, ref: str) -> dict[str, Any]:
    prefix = f"{name}." if name else ""
    if isinstance(value, Mapping):
        return _check_mapping(fields, value, prefix)
    if fields.model is not None and isinstance(value, fields.model):
        return _check_model(fields, value, prefix)
    raise _type_error(name, f"a {ref} or a mapping", value)


def _check_value(param: Param, value: Any, prefix: str) -> Any:
    """Check one value against its Param; return what goes on the wire."""
    if isinstance(value, enum.Enum):
        value = value.value
    kind = param.type
    fmt = param.format
    if fmt is not None and fmt in _DATE_FORMATS:
        value = _DATE_FORMATS[fmt](value, prefix + param.wire)
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(prefix + param.wire, "a string", value)
        if fmt == "e164":
            value = _e164(value, prefix + param.wire)
        return _check_string(param, value, prefix)
    if kind == "integer" or kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(prefix + param.wire, _TYPE_NAMES[kind], value)
        if kind == "integer" and not isinstance(value, int):
            raise _type_error(prefix + param.wire, "an integer", value)
        if isinstance(value, float) and not math.isfinite(value):
            raise _type_error(prefix + param.wire, "a finite number", value)
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            # No API integer is wider than 64 bits, and a 5,000-digit int cannot even be
            # turned into text (Python's int-to-str limit): say so without printing it.
            name = prefix + param.wire
            raise ValidationError(
                f"{name}: an integer of at most 64 bits, got one of {value.bit_length()} bits",
                param=name,
                rule="maximum",
            )
        if param.minimum is not None and value < param.minimum:
            name = prefix + param.wire
            raise ValidationError(
                f"{name}: at least {_num(param.minimum)}, got {_shown(name, value)}",
                param=name,
                rule="minimum",
            )
        if param.maximum is not None and value > param.maximum:
            name = prefix + param.wire
            raise ValidationError(
                f"{name}: at most {_num(param.maximum)}, got {_shown(name, value)}",
                param=name,
                rule="maximum",
            )
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(prefix + param.wire, _TYPE_NAMES[kind], value)
        return value
    if kind == "array":
        return _check_array(param, value, prefix)
    if kind == "object":
        if param.ref is not None:
            name = prefix + param.wire
            return _check_object(_model_rules_by_name(param.ref), value, name, param.ref)
        if isinstance(value, Mapping):
            return dict(value)
        if attrs.has(type(value)):
            return unstructure(value)
        raise _type_error(prefix + param.wire, "a mapping", value)
    return value


def _check_string(param: Param, value: str, prefix: str) -> str:
    if param.enum is not None and value not in param.enum:
        name = prefix + param.wire
        allowed = ", ".join(repr(v) for v in param.enum)
        raise ValidationError(
            f"{name}: {_shown(name, value)} is not one of {allowed}", param=name, rule="enum"
        )
    if param.min_length is not None and len(value) < param.min_length:
        name = prefix + param.wire
        raise ValidationError(
            f"{name}: at least {param.min_length} characters, got {len(value)}",
            param=name,
            rule="min_length",
        )
    if param.max_length is not None and len(value) > param.max_length:
        name = prefix + param.wire
        raise ValidationError(
            f"{name}: at most {param.max_length} characters, got {len(value)}",
            param=name,
            rule="max_length",
        )
    if param.pattern is not None and _compiled(param.pattern).search(value) is None:
        name = prefix + param.wire
        raise ValidationError(
            f"{name}: {_shown(name, value)} does not have the documented form "
            f"(pattern {param.pattern})",
            param=name,
            rule="pattern",
        )
    if param.format == "email" and not _is_email(value):
        name = prefix + param.wire
        raise ValidationError(
            f"{name}: {_shown(name, value)} is not an email address", param=name, rule="email"
        )
    return value


def _check_array(param: Param, value: Any, prefix: str) -> list[Any]:
    name = prefix + param.wire
    if not isinstance(value, (list, tuple)):
        what = f"a list of {param.ref}" if param.ref else "a list"
        raise _type_error(name, what, value)
    if param.min_items is not None and len(value) < param.min_items:
        raise ValidationError(
            f"{name}: at least {param.min_items} item(s), got {len(value)}",
            param=name,
            rule="min_items",
        )
    if not param.items_type and param.ref is None:
        return list(value)
    item = _item_param(param)
    return [_check_value(item, v, f"{name}[{i}]") for i, v in enumerate(value)]


def _is_email(value: str) -> bool:
    match = _EMAIL.fullmatch(value)
    return match is not None and all(match.group(1).split("."))


# --------------------------------------------------------- encoding without checks


def _encode_value(param: Param | None, value: Any) -> Any:
    if param is None or value is None:
        return _encode_any(value)
    if isinstance(value, enum.Enum):
        value = value.value
    if param.format in _DATE_FORMATS and isinstance(value, date):
        try:
            return _DATE_FORMATS[param.format](value, param.wire)
        except ValidationError:  # e.g. a date where the spec wants a datetime
            return value.isoformat()
    if param.type == "array" and isinstance(value, (list, tuple)):
        item = _item_param(param)
        return [_encode_value(item, v) for v in value]
    if param.type == "object" and param.ref is not None:
        return _encode_object(_model_rules_by_name(param.ref), value)
    return _encode_any(value)


def _encode_object(fields: _Fields, value: Any) -> Any:
    if isinstance(value, Mapping):
        by_wire = fields.by_wire
        return {str(k): _encode_value(by_wire.get(k), v) for k, v in value.items() if v is not None}
    if fields.model is not None and isinstance(value, fields.model):
        return {
            wire: _encode_value(fields.by_wire.get(wire), v)
            for attr_name, wire in fields.attr_wires
            if (v := getattr(value, attr_name)) is not None
        }
    return _encode_any(value)


def _encode_any(value: Any) -> Any:
    """JSON-ready data from what a caller passed: models unstructured, enums as values,
    dates in ISO 8601; anything else as it is (the JSON encoder judges it)."""
    if isinstance(value, (enum.Enum, date, datetime)) or attrs.has(type(value)):
        return json_default(value)
    if isinstance(value, Mapping):
        return {str(k): _encode_any(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_encode_any(v) for v in value]
    return value


# ----------------------------------------------------------------------- formats


_REGION: ContextVar[str | None] = ContextVar("coupontools_phone_region", default=None)
_PHONE_EXTRA = "pip install 'coupontools-async[phone]'"
_PHONE_TEXT = re.compile(r"\+?[0-9]*")
_PARSE_CODE = re.compile(r"^\(\d+\)\s*|\.$")  # "(0) Could not interpret ... sign."
# Why phonenumbers finds a number impossible, by its ValidationResult value
# (IS_POSSIBLE, INVALID_COUNTRY_CODE, TOO_SHORT, TOO_LONG, IS_POSSIBLE_LOCAL_ONLY,
# INVALID_LENGTH).
_IMPOSSIBLE = {
    0: "no number of {region} has this form",
    1: "no country has the calling code +{code}",
    2: "too short for a number of {region}",
    3: "too long for a number of {region}",
    4: "a local number of {region}, without its area code",
    5: "no number of {region} has this length",
}


def _phonenumbers(param: str | None) -> ModuleType:
    try:
        import phonenumbers
    except ImportError:
        raise ValidationError(
            _msg(param, f"a default_region needs the phonenumbers package: {_PHONE_EXTRA}"),
            param=param,
            rule="e164",
        ) from None
    return phonenumbers


def _e164_for_region(value: str, text: str, name: str | None, region: str) -> str:
    phonenumbers = _phonenumbers(name)
    shown = _shown(name or "phone", value)
    if _PHONE_TEXT.fullmatch(text) is None:  # letters, extensions: phonenumbers would guess
        raise ValidationError(
            _msg(name, f"{shown} is not a phone number: only digits, + and separators"),
            param=name,
            rule="e164",
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _msg(name, f"{shown} is not a phone number ({_PARSE_CODE.sub('', str(exc))})"),
            param=name,
            rule="e164",
        ) from None
    if not phonenumbers.is_valid_number(number):
        code = number.country_code
        where = phonenumbers.region_code_for_country_code(code)
        where = f"+{code}" if where == "ZZ" else f"{where} (+{code})"
        result = int(phonenumbers.is_possible_number_with_reason(number))
        reason = _IMPOSSIBLE.get(result, _IMPOSSIBLE[0]).format(region=where, code=code)
        raise ValidationError(
            _msg(name, f"{shown} is not a valid phone number: {reason}"),
            param=name,
            rule="e164",
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


REGION_HINT: ContextVar[str] = ContextVar(
    "coupontools_region_hint", default="pass default_region='BE' (your country)"
)
"""How a phone error tells the user to give their country: the CLI names its option."""


def _national_hint() -> str:
    try:
        import phonenumbers  # noqa: F401
    except ImportError:
        return f"; for national numbers, {_PHONE_EXTRA} and {REGION_HINT.get()}"
    return f"; for national numbers, {REGION_HINT.get()}"


def _e164(value: str, name: str | None) -> str:
    text = _PHONE_SEPARATORS.sub("", _TRUNK_ZERO.sub("", value))
    if text.startswith("00"):
        text = "+" + text[2:]
    region = _REGION.get()
    if region is not None:
        return _e164_for_region(value, text, name, region)
    if not text.startswith("+"):
        raise ValidationError(
            _msg(
                name,
                f"{_shown(name or 'phone', value)} needs the international form: + (or 00) "
                "and the country code, without the national leading 0 "
                "(the UK number '07911 123456' is '+447911123456')" + _national_hint(),
            ),
            param=name,
            rule="e164",
        )
    if _E164.fullmatch(text) is None:
        raise ValidationError(
            _msg(
                name,
                f"{_shown(name or 'phone', value)} is not an E.164 phone number "
                "(+ then the country code and number, 7 to 15 digits, not starting with 0)",
            ),
            param=name,
            rule="e164",
        )
    return text


def _valid_moment(parts: tuple[str, ...]) -> bool:
    numbers = [int(p) for p in parts]
    try:
        date(numbers[0], numbers[1], numbers[2])
    except ValueError:
        return False
    limits = (24, 60, 60)
    return all(n < limit for n, limit in zip(numbers[3:], limits, strict=False))


def _as_date(value: Any, name: str) -> str:
    if isinstance(value, date):  # a datetime is a date too: its (wall-clock) day
        return format_date(value)
    if not isinstance(value, str):
        raise _type_error(name, "a date or a 'yyyy-MM-dd' string", value)
    match = _YMD.fullmatch(value)
    if match is None or not _valid_moment(match.groups()):
        raise ValidationError(
            f"{name}: {_shown(name, value)} is not a date in the form yyyy-MM-dd",
            param=name,
            rule="date",
        )
    return value


def _as_date_or_minute(value: Any, name: str) -> str:
    if isinstance(value, datetime):
        return format_date_minute(value)  # in UTC: the docs give these bounds in UTC
    if isinstance(value, date):
        return format_date(value)
    if not isinstance(value, str):
        raise _type_error(name, "a date, a datetime or a 'yyyy-MM-dd [HH:mm]' string", value)
    match = _YMD.fullmatch(value) or _YMD_HM.fullmatch(value)
    if match is None or not _valid_moment(match.groups()):
        raise ValidationError(
            f"{name}: {_shown(name, value)} is not a date in the form yyyy-MM-dd "
            "or yyyy-MM-dd HH:mm",
            param=name,
            rule="ct-date-or-minute",
        )
    return value


def _as_datetime(value: Any, name: str) -> str:
    if isinstance(value, datetime):
        # Wall-clock time on purpose: the API reads it in the campaign's timezone.
        return format_datetime(value)
    if isinstance(value, date):
        raise _type_error(name, "a datetime (a date alone has no time)", value)
    if not isinstance(value, str):
        raise _type_error(name, "a datetime or a 'yyyy-MM-dd HH:mm:ss' string", value)
    match = _YMD_HMS.fullmatch(value)
    if match is None or not _valid_moment(match.groups()):
        raise ValidationError(
            f"{name}: {_shown(name, value)} is not a date and time in the form yyyy-MM-dd HH:mm:ss",
            param=name,
            rule="ct-datetime",
        )
    return value


_DATE_FORMATS: dict[str, Callable[[Any, str], str]] = {
    "date": _as_date,
    "ct-date-or-minute": _as_date_or_minute,
    "ct-datetime": _as_datetime,
}


# ---------------------------------------------------------------------- messages


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return "password" in lowered or "secret" in lowered


def _shown(name: str, value: Any) -> str:
    """The value as a message may quote it: never a secret, never more than 60 characters."""
    if _is_secret(name):
        return "the given value"
    if isinstance(value, str):
        if len(value) > _MAX_SHOWN:
            return f"{value[:40]!r}… ({len(value)} characters)"
        return repr(value)
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:40] + "…"


def _got(name: str, value: Any) -> str:
    kind = type(value).__name__
    if _is_secret(name) or value is None:
        return kind
    return f"{kind} {_shown(name, value)}"


def _type_error(name: str, expected: str, value: Any) -> ValidationError:
    return ValidationError(
        _msg(name, f"expected {expected}, got {_got(name or 'value', value)}"),
        param=name or None,
        rule="type",
    )


def _unknown(fields: _Fields, key: Any, prefix: str) -> ValidationError:
    shown = _key(key)
    name = prefix + shown
    known = sorted(fields.by_wire)
    close = difflib.get_close_matches(shown, known, n=1) if isinstance(key, str) else []
    if close:
        hint = f" (did you mean {close[0]!r}?)"
    elif known and len(known) <= 12:
        hint = f" (known: {', '.join(known)})"
    else:
        hint = ""
    return ValidationError(f"{name}: unknown {fields.owner}{hint}", param=name, rule="unknown")


def _key(key: Any) -> str:
    text = key if isinstance(key, str) else repr(key)
    return text if len(text) <= _MAX_SHOWN else text[:40] + "…"


def _msg(name: str | None, text: str) -> str:
    return f"{name}: {text}" if name else text


def _num(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
