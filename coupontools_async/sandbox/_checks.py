"""The sandbox's own request checks, read from ``spec_rules.json`` (its reading of the spec).

Written apart from the client's validator on purpose (DESIGN.md: the sandbox never
borrows it): the rules come as data from ``codegen/sandbox_rules.py``, and this module
interprets them against the JSON a request carries, as a server sees it. It normalises
nothing: a phone that is not E.164 on the wire is refused, however a client might have
tidied it. A bug in the client's checks therefore shows up as a refusal here.

A refusal names the parameter (dotted for nested fields: ``pagination.page``,
``[3].email``) and the rule it breaks; the sandbox turns that into the documented v3 code
or a v4 HTTP 422.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Refusal", "check_body", "check_path"]

_RULES_FILE = Path(__file__).with_name("spec_rules.json")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_LAYOUTS = {
    "date": (re.compile(_DATE),),
    "ct-date-or-minute": (re.compile(_DATE), re.compile(_DATE + r" ([0-9]{2}):([0-9]{2})")),
    "ct-datetime": (re.compile(_DATE + r" ([0-9]{2}):([0-9]{2}):([0-9]{2})"),),
}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class Refusal(Exception):
    """A request value the API's documented rules do not allow."""

    def __init__(self, param: str, rule: str, message: str) -> None:
        self.param = param
        self.rule = rule
        super().__init__(f"{param}: {message}" if param else message)


@cache
def _table() -> dict[str, Any]:
    rules: dict[str, Any] = json.loads(_RULES_FILE.read_text(encoding="utf-8"))
    return rules


def rules_of(operation_id: str) -> dict[str, Any]:
    """The rules of one operation: ``{"path": {...}, "body": rule or None}``."""
    found: dict[str, Any] = _table()[operation_id]
    return found


def check_path(operation_id: str, values: Mapping[str, str]) -> None:
    """Path values arrive as text: an integer id must be digits within its bounds."""
    for name, rule in rules_of(operation_id)["path"].items():
        text = values.get(name, "")
        if rule["type"] == "integer":
            if not text.isdigit():
                raise Refusal(name, "type", "expected a number")
            _check_bounds(name, rule, int(text))


def check_body(operation_id: str, body: Any) -> Any:
    """The body a handler sees: checked, with unknown top-level parameters left out.

    The real API ignores parameters it does not know (nested objects are checked whole).
    A JSON null counts as not given.
    """
    rule = rules_of(operation_id)["body"]
    if rule is None:
        return {} if body is None else body
    if rule["type"] == "array":
        if not isinstance(body, list):
            raise Refusal("body", "type", "the body must be a JSON list")
        return [_check(f"[{i}]", rule.get("items", {}), v) for i, v in enumerate(body)]
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise Refusal("body", "type", "the body must be a JSON object")
    known = {k: v for k, v in body.items() if k in rule.get("properties", {}) and v is not None}
    return _check_object("", rule, known)


def _check(name: str, rule: Mapping[str, Any], value: Any) -> Any:
    kind = rule["type"]
    if not _is_json(kind, value):
        raise Refusal(name, "type", f"expected a JSON {kind}")
    if kind == "string":
        _check_string(name, rule, value)
    elif kind in ("integer", "number"):
        _check_bounds(name, rule, value)
    elif kind == "array":
        if len(value) < rule.get("minItems", 0):
            raise Refusal(name, "min_items", f"at least {rule['minItems']} item(s)")
        items = rule.get("items")
        if items is not None:
            return [_check(f"{name}[{i}]", items, v) for i, v in enumerate(value)]
    elif kind == "object" and "properties" in rule:
        given = {k: v for k, v in value.items() if v is not None}
        return _check_object(name + ".", rule, given)
    return value


def _is_json(kind: str, value: object) -> bool:
    # bool is an int in Python, never in JSON.
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _JSON_TYPES[kind])


def _check_object(prefix: str, rule: Mapping[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    properties = rule["properties"]
    for key in given:
        if key not in properties and rule.get("closed"):
            raise Refusal(prefix + key, "unknown", "not a documented field")
    out = {
        k: _check(prefix + k, properties[k], v) if k in properties else v for k, v in given.items()
    }
    for key in rule.get("required", []):
        if key not in out:
            raise Refusal(prefix + key, "required", "required")
    for group in rule.get("any_of", []):
        if not any(k in out for k in group):
            raise Refusal(prefix + group[0], "required", f"one of {', '.join(group)} is required")
    for group in rule.get("one_of", []):
        present = [k for k in group if k in out]
        if not present:
            raise Refusal(prefix + group[0], "required", f"one of {', '.join(group)} is required")
        if len(present) > 1:
            raise Refusal(prefix + present[1], "exclusive", f"only one of {', '.join(group)}")
    for group in rule.get("exclusive", []):
        present = [k for k in group if k in out]
        if len(present) > 1:
            raise Refusal(prefix + present[1], "exclusive", f"not both {' and '.join(present)}")
    return out


def _check_string(name: str, rule: Mapping[str, Any], value: str) -> None:
    if "enum" in rule and value not in rule["enum"]:
        raise Refusal(name, "enum", "not an allowed value")
    if len(value) < rule.get("minLength", 0):
        raise Refusal(name, "length", f"shorter than {rule['minLength']} characters")
    if "maxLength" in rule and len(value) > rule["maxLength"]:
        raise Refusal(name, "length", f"longer than {rule['maxLength']} characters")
    fmt = rule.get("format")
    if fmt == "e164" and _E164.fullmatch(value) is None:
        raise Refusal(name, "e164", "not an E.164 phone number")
    if fmt == "email" and _EMAIL.fullmatch(value) is None:
        raise Refusal(name, "email", "not an email address")
    if fmt in _LAYOUTS and not any(_is_moment(p, value) for p in _LAYOUTS[fmt]):
        raise Refusal(name, "date", "not a date in the documented layout")
    if "pattern" in rule and re.search(rule["pattern"], value) is None:
        raise Refusal(name, "pattern", "invalid character")


def _is_moment(layout: re.Pattern[str], value: str) -> bool:
    match = layout.fullmatch(value)
    if match is None:
        return False
    year, month, day, *clock = (int(part) for part in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        return False
    return all(n < limit for n, limit in zip(clock, (24, 60, 60), strict=False))


def _check_bounds(name: str, rule: Mapping[str, Any], value: float) -> None:
    if "minimum" in rule and value < rule["minimum"]:
        raise Refusal(name, "range", f"less than {rule['minimum']}")
    if "maximum" in rule and value > rule["maximum"]:
        raise Refusal(name, "range", f"more than {rule['maximum']}")
