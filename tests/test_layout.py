"""The hand-written package stays readable: no function longer than 120 lines.

Generated code (``_generated/``) is left out: codegen writes it and ``--check`` guards it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import coupontools_async

PACKAGE = Path(coupontools_async.__file__).parent
LONGEST = 120


def hand_written_modules() -> list[Path]:
    """Every module of the package but the generated ones."""
    return sorted(
        p for p in PACKAGE.rglob("*.py") if "_generated" not in p.relative_to(PACKAGE).parts
    )


def long_functions(source: str, *, longest: int = LONGEST) -> list[tuple[str, int, int]]:
    """``(name, first line, length)`` of every function (nested ones too) over ``longest`` lines.

    A function's lines run from its first decorator to its last line, as a reader scrolls them.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > longest:
                found.append((node.name, first, length))
    return found


def test_the_walk_sees_the_hand_written_package() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in hand_written_modules()}
    assert {"_client.py", "cli/_app.py", "sandbox/_sessions.py"} <= names
    assert not any(name.startswith("_generated/") for name in names)


def test_a_function_of_121_lines_is_found_and_one_of_120_is_not() -> None:
    def function(lines: int, *, indent: str = "") -> str:
        body = "".join(f"{indent}    x = {n}\n" for n in range(lines - 2))
        return f"{indent}@decorator\n{indent}def f() -> None:\n{body}"

    assert long_functions(function(120)) == []
    assert long_functions(function(121)) == [("f", 1, 121)]
    # A closure is a function too: nesting does not hide one.
    nested = "async def outer() -> None:\n" + function(121, indent="    ")
    assert ("f", 2, 121) in long_functions(nested)


def test_no_hand_written_function_is_over_120_lines() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} {name} ({length} lines)"
        for path in hand_written_modules()
        for name, line, length in long_functions(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
