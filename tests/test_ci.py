"""CI runs every Python we declare, and a missing one fails instead of being skipped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests._spec import ROOT


def test_scripts_check_fails_loudly_before_installing_when_a_python_is_missing() -> None:
    proc = subprocess.run(
        ["bash", "scripts/check"],
        cwd=ROOT,
        env={**os.environ, "CHECK_PYTHONS": "3.11 3.99"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "FAILED: no Python 3.99 (looked in pyenv's versions and PATH)" in proc.stderr
    assert "== venvs and install" not in proc.stdout


def test_nox_fails_a_session_whose_python_is_missing_instead_of_skipping_it() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nox", "--extra-pythons", "3.99", "-s", "tests-3.99"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Python interpreter 3.99 not found" in proc.stderr
    assert "skipped" not in proc.stderr.lower().replace("was skipped", "")


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_every_declared_python_is_tested_by_nox_and_scripts_check(version: str) -> None:
    assert f"Programming Language :: Python :: {version}" in (ROOT / "pyproject.toml").read_text(
        encoding="utf-8"
    )
    assert f'"{version}"' in (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert version in (ROOT / "scripts" / "check").read_text(encoding="utf-8").split("PYTHONS=(")[1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CI": "true"}, "True True"),
        ({}, "False False"),
        ({"HYPOTHESIS_PROFILE": "ci"}, "True True"),
    ],
)
def test_property_tests_are_derandomized_in_ci(env: dict[str, str], expected: str) -> None:
    code = (
        "import tests.conftest; from hypothesis import settings; "
        "print(settings.default.derandomize, settings.default.print_blob)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == expected
