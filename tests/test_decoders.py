"""The generated decoders decode exactly as the converter's generic rules do, only faster.

"Exactly" includes what ``==`` leaves out: every model's ``extra_fields``, at every level.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coupontools_async._convert import build_converter, converter
from coupontools_async._generated.decoders import DECODERS
from tests._spec import documented_examples

GENERIC = build_converter(generated_decoders=False)
MODELS = sorted(DECODERS, key=lambda cls: cls.__name__)

LOOSE_TEXT = st.sampled_from(
    [
        "",
        "0",
        "1",
        "8",
        "1.9",
        "2.0",
        "true",
        "no",
        "abc",
        "0000-00-00",
        "1980-01-01",
        "2024-02-12 12:31:06",
        "2023-10-10T12:00:00Z",
        "13/07/2018 19:47 UTC",
        "2024-02-12T12:31:06+02:00",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    LOOSE_TEXT,
    st.text(max_size=6),
)


def wire_keys(cls: type[Any]) -> list[str]:
    return [f.metadata.get("wire", f.name) for f in attrs.fields(cls)]


ALL_KEYS = sorted({key for cls in MODELS for key in wire_keys(cls)})


def payloads(cls: type[Any]) -> st.SearchStrategy[Any]:
    nested = st.dictionaries(st.sampled_from(ALL_KEYS), SCALARS, max_size=6)
    values = st.one_of(SCALARS, nested, st.lists(st.one_of(nested, SCALARS), max_size=3))
    keys = st.sampled_from([*wire_keys(cls), "unknown_key", "another_new_key"])
    return st.one_of(
        st.dictionaries(keys, values, max_size=12),
        st.sampled_from([[], "", None, 5, "x", [{}]]),
    )


def deep(value: Any) -> Any:
    """A model as comparable data, its extra_fields included (``==`` ignores them)."""
    if attrs.has(type(value)):
        fields = tuple((f.name, deep(getattr(value, f.name))) for f in attrs.fields(type(value)))
        return type(value).__name__, fields, dict(value.extra_fields)
    if isinstance(value, list):
        return [deep(v) for v in value]
    return value


def outcome(conv: Any, data: Any, cls: type[Any]) -> tuple[str, Any]:
    try:
        return "ok", deep(conv.structure(data, cls))
    except Exception:  # the client wraps any decode failure into APIError
        return "error", None


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_generated_decoder_agrees_with_the_generic_rules(
    cls: type[Any], data: st.DataObject
) -> None:
    payload = data.draw(payloads(cls))
    assert outcome(converter, payload, cls) == outcome(GENERIC, payload, cls)


@pytest.mark.parametrize(("key", "owner", "payload"), list(documented_examples()))
def test_documented_examples_decode_the_same_both_ways(key: str, owner: str, payload: Any) -> None:
    from coupontools_async._generated import OPERATIONS, models

    target = OPERATIONS[owner].response_type if owner in OPERATIONS else getattr(models, owner)
    assert deep(converter.structure(payload, target)) == deep(GENERIC.structure(payload, target))


def test_every_model_has_a_generated_decoder_registered() -> None:
    from coupontools_async._generated import models

    classes = {
        obj
        for obj in vars(models).values()
        if isinstance(obj, type) and attrs.has(obj) and obj.__module__ == models.__name__
    }
    assert classes == set(DECODERS)
    for cls in classes:
        assert converter.get_structure_hook(cls) is DECODERS[cls]


def test_the_comparison_sees_extra_fields_that_equality_ignores() -> None:
    from coupontools_async._generated import models

    plain = converter.structure({"id": 1}, models.WalletUser)
    richer = converter.structure({"id": 1, "new": 2}, models.WalletUser)
    assert plain == richer
    assert deep(plain) != deep(richer)


@settings(max_examples=50, deadline=None)
@given(
    extra=st.dictionaries(
        st.text(max_size=8).filter(lambda k: k not in {"id", "name", "rewards"}), SCALARS
    )
)
def test_both_paths_keep_the_same_unknown_keys_at_every_level(extra: dict[str, Any]) -> None:
    from coupontools_async._generated import models

    known = set(wire_keys(models.WalletUser)) | set(wire_keys(models.WalletReward))
    extra = {k: v for k, v in extra.items() if k not in known}
    payload = [{"id": 1, **extra, "rewards": [{"id": 2, **extra}]}]
    fast = converter.structure(payload, list[models.WalletUser])
    assert deep(fast) == deep(GENERIC.structure(payload, list[models.WalletUser]))
    assert dict(fast[0].extra_fields) == extra
    assert fast[0].rewards is not None
    assert dict(fast[0].rewards[0].extra_fields) == extra
