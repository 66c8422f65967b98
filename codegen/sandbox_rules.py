"""The sandbox's own reading of the spec: each operation's request rules, as plain JSON data.

The sandbox must not check requests with the client's validator (a client bug would
hide behind a sandbox that agrees with it), so it gets the rules as data straight from
the spec, and interprets them with its own code (``coupontools_async/sandbox/_checks.py``).
Nothing here goes through the client's ``Operation``/``Param`` tables either: every
``$ref`` is inlined and every constraint copied as the spec writes it.

``python -m codegen`` writes the file; ``--check`` fails when it is out of date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "coupontools_async" / "sandbox" / "spec_rules.json"
_METHODS = ("get", "post", "put", "patch", "delete")
_CONSTRAINTS = (
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
)
_GROUP_RULES = {
    "x-require-any-of": "any_of",
    "x-require-one-of": "one_of",
    "x-mutually-exclusive": "exclusive",
}


def _target(spec: Mapping[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _rule(spec: Mapping[str, Any], node: Any, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """One value's rule: its type, its constraints, and for objects and arrays their parts."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            raise ValueError(f"recursive $ref {ref}: the sandbox rules cannot inline it")
        return _rule(spec, _target(spec, ref), (*seen, ref))
    kind = node.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    rule: dict[str, Any] = {"type": kind}
    for key in _CONSTRAINTS:
        if key in node:
            rule[key] = node[key]
    if kind == "array" and "items" in node:
        rule["items"] = _rule(spec, node["items"], seen)
    if kind == "object" and "properties" in node:
        rule.update(_object(spec, node, seen))
        rule["closed"] = node.get("additionalProperties") is False
    return rule


def _object(spec: Mapping[str, Any], schema: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    fields: dict[str, Any] = {
        "properties": {
            name: _rule(spec, prop, seen) for name, prop in schema.get("properties", {}).items()
        },
        "required": list(schema.get("required", [])),
    }
    for ext, name in _GROUP_RULES.items():
        value = schema.get(ext)
        if value:
            fields[name] = value if isinstance(value[0], list) else [value]
    return fields


def rules(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``{operationId: {"path": {name: rule}, "body": rule | None}}`` for every operation."""
    table: dict[str, Any] = {}
    for item in spec.get("paths", {}).values():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            path = {
                p["name"]: _rule(spec, p.get("schema", {}))
                for p in op.get("parameters", [])
                if p.get("in") == "path"
            }
            body = None
            if "requestBody" in op:
                content = op["requestBody"]["content"]["application/json"]["schema"]
                body = _rule(spec, content)
            table[op["operationId"]] = {"path": path, "body": body}
    return dict(sorted(table.items()))


def render(spec: Mapping[str, Any]) -> str:
    """The JSON text of the rules file (stable: sorted operations, fixed layout)."""
    return json.dumps(rules(spec), indent=1, ensure_ascii=False) + "\n"


def write(spec: Mapping[str, Any], target: Path = RULES_FILE) -> None:
    """Write the rules file beside the sandbox code."""
    target.write_text(render(spec), encoding="utf-8")


def differences(spec: Mapping[str, Any], target: Path = RULES_FILE) -> list[str]:
    """``["differs: ..."]`` when the committed rules file is not what the spec gives."""
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current == render(spec):
        return []
    shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
    return [f"{'differs' if current is not None else 'missing'}: {shown}"]
