"""Valid sample arguments and minimal valid answers, derived from the spec's metadata."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from coupontools_async._generated import Operation, Param
from tests._spec import spec

# "^cam_..." or "^(cam|dir)_...": the first kind of id the pattern allows.
_ID_PREFIX = re.compile(r"^\^\(?([a-z]+)(?:\|[a-z]+)*\)?_")


def sample_value(param: Param) -> Any:
    """A value every documented rule of ``param`` accepts."""
    if param.enum:
        return param.enum[0]
    if param.format == "e164":
        return "+32470123456"
    if param.format == "email":
        return "ann@example.com"
    if param.format == "date":
        return date(2024, 1, 31)
    if param.format == "ct-date-or-minute":
        return date(2024, 1, 31)
    if param.format == "ct-datetime":
        return datetime(2024, 1, 31, 23, 59, 0)
    if param.type == "integer":
        return int(param.minimum) if param.minimum is not None else 1
    if param.type == "number":
        return 1.5
    if param.type == "boolean":
        return True
    if param.type == "array":
        if param.ref:
            return [{"first_name": "Ann", "email": "ann@example.com"}]
        return [1] if param.items_type == "integer" else ["x"]
    if param.type == "object":
        return {}
    if param.pattern == "^[A-Z]{2}$":
        return "BE"
    if param.pattern:
        match = _ID_PREFIX.match(param.pattern)
        if match:
            return match.group(1) + "_123"
    return "abcdef"[: param.max_length or 6].ljust(param.min_length or 1, "x")


def wire_value(param: Param, value: Any) -> Any:
    """What the client must send for ``value``."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def call_arguments(op: Operation[Any]) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """(positional args, keyword args, expected JSON body) for a valid call of ``op``.

    Every documented parameter is given (required and optional), except where the
    operation forbids giving two together.
    """
    positional: list[Any] = []
    kwargs: dict[str, Any] = {}
    body: Any = {}
    exclusive = {name for group in op.mutually_exclusive for name in group[1:]}
    exclusive |= {name for group in op.require_one_of for name in group[1:]}
    for param in op.params:
        value = sample_value(param)
        if param.location == "path":
            positional.append(value)
        elif op.body_param == param.name:
            positional.append(value)
            body = value
        elif param.name not in exclusive:
            kwargs[param.name] = value
            body[param.wire] = wire_value(param, value)
    return positional, kwargs, body


def _schema_sample(name: str) -> dict[str, Any]:
    schema = spec()["components"]["schemas"][name]
    result: dict[str, Any] = {}
    for prop in schema.get("required", []):
        definition = schema["properties"][prop]
        ref = definition.get("$ref")
        if ref:
            result[prop] = _schema_sample(ref.rsplit("/", 1)[1])
        else:
            result[prop] = 1 if definition.get("type") == "integer" else "x_1"
    return result


def minimal_answer(op: Operation[Any]) -> dict[str, Any]:
    """httpx.Response keyword arguments for a minimal successful answer to ``op``."""
    if op.response_kind == "binary":
        return {"content": b"\x89PNG fake", "headers": {"content-type": "image/png"}}
    if op.response_kind == "empty":
        return {"content": b""}
    responses = spec()["paths"][op.path][op.method.lower()]["responses"]
    ok = responses.get("200") or responses.get("201")
    media = ok["content"]["application/json"]
    examples = media.get("examples") or {}
    if examples:
        payload: Any = next(iter(examples.values()))["value"]
    else:
        schema = media["schema"]
        if schema.get("type") == "array":
            payload = [_schema_sample(schema["items"]["$ref"].rsplit("/", 1)[1])]
        else:
            payload = _schema_sample(schema["$ref"].rsplit("/", 1)[1])
    if op.api_version == "v3" and isinstance(payload, dict):
        payload = {"status": {"status": "OK"}, **payload}
    return {"json": payload}
