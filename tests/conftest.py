"""Shared fixtures: every async test runs on asyncio and on trio.

Property tests are reproducible in CI: the ``ci`` hypothesis profile derandomizes them
(the same examples on every run and every Python) and prints the blob that replays a
failure. It is loaded when ``CI`` is set (``scripts/check`` sets it) or when
``HYPOTHESIS_PROFILE`` names it; ``HYPOTHESIS_PROFILE=hunt`` draws many more fresh
examples, to look for new failures on purpose.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

pytest_plugins = ["tests._leakcheck", "pytester"]

settings.register_profile("ci", derandomize=True, print_blob=True, database=None)
settings.register_profile("hunt", max_examples=20_000, print_blob=True, database=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test once per backend."""
    return str(request.param)
