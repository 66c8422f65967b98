"""The sandbox's route index and event ids: built for speed, equal to the plain way."""

from __future__ import annotations

import random
import string

import pytest

from coupontools_async._generated import OPERATIONS
from coupontools_async.sandbox._sandbox import _ROUTES, _draw, find_operation


def _scan(method: str, path: str) -> tuple[object, dict[str, str]] | None:
    """Every route in order, first match wins: what the index replaced."""
    for route_method, pattern, op in _ROUTES:
        if route_method == method:
            match = pattern.match(path)
            if match:
                return op, match.groupdict()
    return None


def _paths() -> list[tuple[str, str]]:
    cases = []
    for op in OPERATIONS.values():
        filled = op.path.replace("{", "").replace("}", "")  # each placeholder: its own name
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            cases += [
                (method, op.path),
                (method, filled),
                (method, filled + "\n"),  # "$" matches before a final newline
                (method, filled + "/"),
                (method, filled + "/extra"),
                (method, filled.rsplit("/", 1)[0]),
                (method, filled.replace("/", "//", 1)),
            ]
    cases += [("GET", ""), ("GET", "/"), ("GET", "\n"), ("POST", "/v4/nothing/here")]
    return cases


def test_route_index_finds_the_same_operation_and_values_as_scanning_every_route() -> None:
    cases = _paths()
    assert len(cases) > 500
    for method, path in cases:
        assert find_operation(method, path) == _scan(method, path), (method, path)


def test_fixed_segment_wins_over_a_placeholder_in_the_same_place() -> None:
    bulk = [op for op in OPERATIONS.values() if op.path.endswith("/stats/bulk")]
    assert bulk
    for op in bulk:
        found = find_operation(op.method, op.path.replace("{card_id}", "3"))
        assert found is not None
        assert found[0] is op  # not ".../stats/{user_id}" with user_id "bulk"
        assert found[1] == {"card_id": "3"}


def test_unknown_method_or_path_finds_no_operation() -> None:
    assert find_operation("TRACE", "/v4/loyalty/loyalty-cards") is None
    assert find_operation("GET", "/v4/loyalty/loyalty-cards/3/stats/1/nope/deeper") is None


@pytest.mark.parametrize("seed", [0, 1, 42, 2**40])
def test_event_id_draw_gives_the_characters_choice_would_for_the_same_seed(seed: int) -> None:
    alphabet = string.ascii_letters + string.digits
    ours, theirs = random.Random(seed), random.Random(seed)
    for _ in range(200):
        assert _draw(ours, alphabet, 20) == "".join(theirs.choice(alphabet) for _ in range(20))
    assert ours.random() == theirs.random()  # the rng is left in the same state too


def test_event_id_draw_handles_an_alphabet_whose_size_is_a_power_of_two() -> None:
    ours, theirs = random.Random(7), random.Random(7)
    for alphabet in ("ab", "abcd" * 16, "x"):
        assert _draw(ours, alphabet, 50) == "".join(theirs.choice(alphabet) for _ in range(50))
