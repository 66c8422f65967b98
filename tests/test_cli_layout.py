"""The ``cli/`` package: a fast ``--help``, one skeleton for every command, and constants
that agree with the library they stand in for."""

from __future__ import annotations

import json
import subprocess
import sys
from types import TracebackType
from typing import Any

import pytest
import typer

import coupontools_async
from coupontools_async import bulk
from coupontools_async._client import ENV_CLIENT_ID, ENV_CLIENT_SECRET
from coupontools_async.cli import _common
from coupontools_async.errors import NotFoundError

# What --help must not import: each costs more than typer and rich together.
HEAVY = (
    "coupontools_async._client",
    "coupontools_async._generated",
    "coupontools_async._validation",
    "coupontools_async.bulk",
    "coupontools_async.sandbox",
    "httpx",
    "rich.progress",
)


def _modules_after(*argv: str) -> set[str]:
    """The modules a fresh interpreter holds after ``coupontools ARGV``."""
    script = (
        "import contextlib, io, json, sys\n"
        "from coupontools_async.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({list(argv)!r})\n"
        "assert code == 0, code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("wallet-users", "import", "--help"), ("sandbox", "serve", "--help")],
)
def test_help_imports_neither_client_nor_models_nor_sandbox(argv: tuple[str, ...]) -> None:
    loaded = _modules_after(*argv)
    assert "typer" in loaded  # it did run the command line
    assert sorted(m for m in loaded if m.startswith(HEAVY)) == []


def test_a_command_that_talks_to_the_api_does_import_the_client() -> None:
    # The same probe sees the client when a command needs it: the test above can fail.
    loaded = _modules_after("--sandbox", "wallet-cards", "list", "--json")
    assert {"coupontools_async._client", "coupontools_async.sandbox"} <= loaded


def test_the_package_names_resolve_when_first_used() -> None:
    from coupontools_async._client import AsyncClient
    from coupontools_async.errors import CoupontoolsError

    assert coupontools_async.AsyncClient is AsyncClient
    assert coupontools_async.CoupontoolsError is CoupontoolsError
    assert set(coupontools_async.__all__) <= set(dir(coupontools_async))
    with pytest.raises(AttributeError, match="no attribute 'AsyncClinet'"):
        _ = coupontools_async.AsyncClinet  # type: ignore[attr-defined]


def test_constants_written_for_a_fast_help_agree_with_the_library() -> None:
    assert _common.MAX_CONCURRENCY == bulk.MAX_CONCURRENCY
    assert (_common.ENV_CLIENT_ID, _common.ENV_CLIENT_SECRET) == (
        ENV_CLIENT_ID,
        ENV_CLIENT_SECRET,
    )


class _Client:
    """Stands in for AsyncClient: records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def __aenter__(self) -> _Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed = True


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> _Client:
    fake = _Client()
    monkeypatch.setattr(_common, "_client", lambda opts: fake)
    return fake


def test_call_gives_what_the_command_returns_and_closes_the_client(client: _Client) -> None:
    async def work(ct: Any) -> str:
        assert ct is client
        assert not client.closed
        return "done"

    assert _common.call(_common._Options(), work) == "done"
    assert client.closed


def test_call_maps_an_api_error_to_one_line_and_exit_1_and_still_closes(
    client: _Client, capsys: pytest.CaptureFixture[str]
) -> None:
    async def work(ct: Any) -> None:
        raise NotFoundError("Wallet card not found\nsecond line", status_code=404)

    with pytest.raises(typer.Exit) as stopped:
        _common.call(_common._Options(), work)
    assert stopped.value.exit_code == 1
    assert client.closed
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "Wallet card not found second line" in err


def test_call_tells_ctrl_c_with_the_hint_and_exit_130(
    client: _Client, capsys: pytest.CaptureFixture[str]
) -> None:
    async def work(ct: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(typer.Exit) as stopped:
        _common.call(_common._Options(), work, interrupted="add --resume to continue")
    assert stopped.value.exit_code == 130
    assert client.closed
    assert capsys.readouterr().err == "error: interrupted; add --resume to continue\n"


def test_call_refuses_missing_credentials_before_opening_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(ENV_CLIENT_ID, raising=False)
    monkeypatch.delenv(ENV_CLIENT_SECRET, raising=False)
    ran: list[bool] = []

    async def work(ct: Any) -> None:
        ran.append(True)

    with pytest.raises(typer.Exit) as stopped:
        _common.call(_common._Options(), work)
    assert stopped.value.exit_code == 2
    assert ran == []
    assert f"{ENV_CLIENT_ID} is not set" in capsys.readouterr().err
