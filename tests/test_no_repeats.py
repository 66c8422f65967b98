"""Guard: no hand-written block of six or more lines stands twice in the package (issue 12).

The scan compares every window of six consecutive code lines (blank and comment lines
dropped, whitespace normalised) across and within the hand-written modules of
``coupontools_async`` (``_generated/`` is codegen's output and is left out). Two kinds of
window are not logic and are passed over: all-import windows, and windows that are
only bare literals (``"AuthenticationError",`` lines of an ``__all__``).
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

import coupontools_async

WINDOW = 6
PACKAGE = Path(coupontools_async.__file__).parent

Place = tuple[str, int]
"""A file (relative to the scanned root, ``/``-separated) and a 1-based line."""

_DATA = re.compile(
    r"""^(?:[rbuf]?"[^"]*"|[rbuf]?'[^']*'|-?\d[\d_.]*|None|True|False|[\]\)\}]+),?$"""
)
"""A line that is only a literal or closing brackets (an item of a list of names)."""


def _code_lines(path: Path) -> list[tuple[int, str]]:
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = " ".join(raw.split())
        if text and not text.startswith("#"):
            lines.append((number, text))
    return lines


def _is_logic(window: tuple[str, ...]) -> bool:
    if all(line.startswith(("import ", "from ")) for line in window):
        return False
    # The first line may open the list (``__all__ = [``).
    return not all(_DATA.match(line) for line in window[1:])


def find_repeats(root: Path) -> list[tuple[Place, Place]]:
    """Each pair of places (first, again) where the same six code lines stand.

    Overlapping windows of one longer run are reported once, at the run's start.
    """
    seen: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
    starts: dict[tuple[str, int], int] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if "_generated" in relative.parts:
            continue
        name = relative.as_posix()
        lines = _code_lines(path)
        for index in range(len(lines) - WINDOW + 1):
            window = tuple(text for _, text in lines[index : index + WINDOW])
            if _is_logic(window):
                seen[window].append((name, index))
                starts[(name, index)] = lines[index][0]
    matches = {
        (first, again)
        for places in seen.values()
        for position, first in enumerate(places)
        for again in places[position + 1 :]
    }
    return sorted(
        ((a, starts[(a, i)]), (b, starts[(b, j)]))
        for (a, i), (b, j) in matches
        if ((a, i - 1), (b, j - 1)) not in matches  # the rest of a run already reported
    )


def _describe(pairs: list[tuple[Place, Place]]) -> str:
    return "\n".join(f"{a}:{a_line} ~ {b}:{b_line}" for (a, a_line), (b, b_line) in pairs)


def test_no_hand_written_block_of_six_lines_stands_twice_in_the_package() -> None:
    repeats = find_repeats(PACKAGE)
    assert not repeats, "the same six lines stand twice (write them once):\n" + _describe(repeats)


BLOCK = textwrap.dedent(
    """\
    def total(rows):
        count = 0
        for row in rows:
            if row.ok:
                count += row.amount
        return count
    """
)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_block_copied_into_another_module_is_named_at_both_places(tmp_path: Path) -> None:
    # The same lines after an import, with a comment inside and other spacing.
    spaced = "        # add\n        count  +=  row.amount\n"
    copy = "import os\n\n\n" + BLOCK.replace("        count += row.amount\n", spaced)
    root = _package(tmp_path, {"a.py": BLOCK, "sub/b.py": copy})
    repeats = find_repeats(root)
    assert repeats == [(("a.py", 1), ("sub/b.py", 4))]
    assert _describe(repeats) == "a.py:1 ~ sub/b.py:4"


def test_a_block_repeated_within_one_module_is_found_and_a_longer_run_reported_once(
    tmp_path: Path,
) -> None:
    longer = BLOCK + "\n\nx = 1\n"
    root = _package(tmp_path, {"a.py": longer + "\n" + longer})
    repeats = find_repeats(root)
    assert repeats == [(("a.py", 1), ("a.py", 11))]


@pytest.mark.parametrize(
    "text",
    [
        "".join(f"import mod{i}\n" for i in range(6)),
        "__all__ = [\n" + "".join(f'    "Name{i}",\n' for i in range(6)) + "]\n",
    ],
    ids=["imports", "literals"],
)
def test_import_only_and_literal_only_windows_are_not_repeats(tmp_path: Path, text: str) -> None:
    root = _package(tmp_path, {"a.py": text, "b.py": text})
    assert find_repeats(root) == []


def test_generated_code_is_not_scanned(tmp_path: Path) -> None:
    root = _package(tmp_path, {"a.py": BLOCK, "_generated/b.py": BLOCK})
    assert find_repeats(root) == []


def test_five_shared_lines_are_not_a_repeat(tmp_path: Path) -> None:
    five = "\n".join(BLOCK.splitlines()[:5]) + "\n"
    root = _package(tmp_path, {"a.py": five + "y = 2\n", "b.py": five + "z = 3\n"})
    assert find_repeats(root) == []
