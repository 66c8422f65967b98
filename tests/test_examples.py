"""Every example payload of the docs decodes into its generated model, with the right values."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import pytest

from coupontools_async._convert import structure
from coupontools_async._generated import OPERATIONS, models
from tests._spec import documented_examples, expectations, lookup

EXAMPLES = list(documented_examples())


def _target(owner: str) -> Any:
    if owner in OPERATIONS:
        return OPERATIONS[owner].response_type
    return getattr(models, owner)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def test_every_example_has_expectations_and_every_expectation_an_example() -> None:
    keys = [key for key, _, _ in EXAMPLES]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(expectations())


def test_there_are_examples_for_every_documented_payload_family() -> None:
    owners = {owner for _, owner, _ in EXAMPLES}
    assert len(EXAMPLES) >= 30
    assert {
        "wallet_users_get",
        "loyalty_users_list",
        "sms_list_contacts",
        "webhooks_verify",
    } <= owners
    assert {"CouponEvent", "LandingPageSubmissionEvent", "DirectoryRegistrationEvent"} <= owners


@pytest.mark.parametrize(("key", "owner", "payload"), EXAMPLES, ids=[k for k, _, _ in EXAMPLES])
def test_documented_example_decodes_to_the_documented_values(
    key: str, owner: str, payload: Any
) -> None:
    decoded = structure(payload, _target(owner))
    expected = expectations()[key]
    assert expected, f"{key}: no values to check"
    for path, value in expected.items():
        assert _plain(lookup(decoded, path)) == value, f"{key}: {path}"
