"""One nox session per habit: tests, lint, typecheck, codegen, docs (see README)."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["codegen", "lint", "typecheck", "docs", "tests"]
nox.options.default_venv_backend = "venv"
# A Python we declare but cannot find is a failure, never a skipped session reported as
# success.
nox.options.error_on_missing_interpreters = True
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def _pyenv_bins() -> list[str]:
    """pyenv's interpreter directories for PYTHONS (its shims only find the active one)."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = []
    for version in PYTHONS:
        found += [str(p) for p in sorted(root.glob(f"versions/{version}.*/bin"), reverse=True)]
    return found


# nox looks interpreters up as pythonX.Y on PATH: put pyenv's in front.
os.environ["PATH"] = os.pathsep.join([*_pyenv_bins(), os.environ.get("PATH", "")])


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole pytest suite, every async test on asyncio and trio."""
    _install(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check on everything, generated code included."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, codegen, tests and this file."""
    _install(session)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built with ``mkdocs build --strict`` into site/."""
    session.install("-e", ".[docs]")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session
def codegen(session: nox.Session) -> None:
    """Fail when coupontools_async/_generated differs from a fresh run on the spec.

    ``nox -s codegen -- write`` regenerates instead of checking.
    """
    _install(session)
    if session.posargs[:1] == ["write"]:
        session.run("python", "-m", "codegen")
    else:
        session.run("python", "-m", "codegen", "--check")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks (not tests): writes bench/RESULTS.md; ``-- --quick`` for a smoke run."""
    session.install("-e", ".[dev,bench]")
    session.run("python", "-m", "bench.run", *session.posargs)
