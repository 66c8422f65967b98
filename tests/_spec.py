"""Helpers for tests that read the spec and its documented examples."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "spec" / "coupontools.yaml"
EXPECTATIONS = ROOT / "tests" / "data" / "expectations"


@cache
def spec() -> dict[str, Any]:
    """The spec as plain data (read once)."""
    data: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return data


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, METHOD, operation) for every operation of the spec."""
    for path, item in spec()["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                yield path, method.upper(), item[method]


def documented_examples() -> Iterator[tuple[str, str, Any]]:
    """(key, schema name or operationId, payload) for every example in the spec.

    Keys are ``<operationId>:<name>`` for responses and ``webhook:<key>:<name>`` for
    webhook payloads, as in tests/data/expectations/.
    """
    for _, _, op in operations():
        for response in op.get("responses", {}).values():
            for media in (response.get("content") or {}).values():
                for name, example in (media.get("examples") or {}).items():
                    yield f"{op['operationId']}:{name}", op["operationId"], example["value"]
    for key, item in (spec().get("webhooks") or {}).items():
        media = item["post"]["requestBody"]["content"]["application/json"]
        schema = media["schema"]["$ref"].rsplit("/", 1)[1]
        for name, example in (media.get("examples") or {}).items():
            yield f"webhook:{key}:{name}", schema, example["value"]


@cache
def expectations() -> dict[str, dict[str, Any]]:
    """Every expected decoded value, by example key."""
    merged: dict[str, dict[str, Any]] = {}
    for path in sorted(EXPECTATIONS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, values in data.items():
            assert key not in merged, f"{key} is expected twice"
            merged[key] = values
    return merged


_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["([^"]+)"\]')


def lookup(obj: Any, path: str) -> Any:
    """Follow an attribute path like ``users[0].id`` or ``data["E-mail"]``."""
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match:
            raise ValueError(f"bad path {path!r} at {pos}")
        attr, index, key = match.groups()
        if attr is not None:
            obj = getattr(obj, attr)
        elif index is not None:
            obj = obj[int(index)]
        else:
            obj = obj[key]
        pos = match.end()
    return obj
