"""One nox session per habit: tests, lint, typecheck, codegen (see README)."""

from __future__ import annotations

import nox

nox.options.sessions = ["codegen", "lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


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
