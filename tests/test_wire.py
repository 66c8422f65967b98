"""The wire formats live in one module and agree with each other in both directions."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from coupontools_async import _wire
from coupontools_async._envelope import parse_retry_after as envelope_parse_retry_after
from tests._spec import ROOT

PACKAGE = ROOT / "coupontools_async"


def test_a_formatted_date_parses_back_to_the_same_day() -> None:
    day = date(2026, 2, 9)
    assert _wire.format_date(day) == "2026-02-09"
    assert _wire.to_date(_wire.format_date(day)) == day


def test_a_formatted_timestamp_parses_back_to_the_same_utc_moment() -> None:
    moment = datetime(2026, 2, 9, 23, 30, 5, tzinfo=timezone(timedelta(hours=-2)))
    text = _wire.format_utc_seconds(moment)
    assert text == "2026-02-10 01:30:05"  # the next day in UTC
    assert _wire.parse_datetime(text) == moment


def test_a_date_and_minute_bound_is_sent_in_utc_and_a_datetime_as_wall_clock() -> None:
    moment = datetime(2026, 2, 9, 23, 30, 59, tzinfo=timezone(timedelta(hours=1)))
    assert _wire.format_date_minute(moment) == "2026-02-09 22:30"
    assert _wire.format_datetime(moment) == "2026-02-09 23:30:59"


@pytest.mark.parametrize("seconds", [0, 0.002, 0.5, 1, 1.2, 30, 3600])
def test_a_retry_after_we_write_reads_back_as_at_least_as_long(seconds: float) -> None:
    header = _wire.retry_after_header(seconds)
    assert "e" not in header  # never exponent notation
    parsed = _wire.parse_retry_after(header)
    assert parsed is not None
    assert parsed >= seconds


@pytest.mark.parametrize("hostile", ["", "  ", "soon", "1e999", "nan", "-5"])
def test_a_hostile_retry_after_is_none_or_zero_never_an_error(hostile: str) -> None:
    assert _wire.parse_retry_after(hostile) in (None, 0.0)


def test_a_retry_after_http_date_is_relative_to_now() -> None:
    now = datetime(2026, 2, 9, 12, 0, 0, tzinfo=timezone.utc)
    assert _wire.parse_retry_after("Mon, 09 Feb 2026 12:00:30 GMT", now=now) == 30.0


def test_the_envelope_reads_retry_after_with_the_wire_rule() -> None:
    assert envelope_parse_retry_after is _wire.parse_retry_after


def test_a_body_with_nan_is_refused_and_text_stays_utf8() -> None:
    assert _wire.json_dumps({"name": "Zoë", "day": date(2026, 1, 2)}) == (
        '{"name":"Zoë","day":"2026-01-02"}'.encode()
    )
    with pytest.raises(ValueError, match="JSON compliant"):
        _wire.json_dumps({"x": float("nan")})


def test_json_loads_takes_what_the_fast_parser_refuses() -> None:
    import math

    assert math.isnan(_wire.json_loads(b'{"x": NaN}')["x"])


def test_no_client_module_writes_a_date_layout_of_its_own() -> None:
    # The sandbox keeps its own copies until its split lands (it may use _wire's helpers).
    layout = re.compile(r"strftime|strptime|%Y-%m-%d|\{\w+\.year:04d\}")
    offenders = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.glob("*.py")
        if path.name not in {"_wire.py"} and layout.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_version_is_written_once_and_read_everywhere() -> None:
    import coupontools_async
    from coupontools_async import _version

    pyproject = Path(ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"(?m)^version\s*=", pyproject) is None
    assert 'dynamic = ["version"]' in pyproject
    assert (
        '[tool.hatch.version]\n# The one version string (also the User-Agent and __version__).\npath = "coupontools_async/_version.py"'
        in pyproject
    )
    assert coupontools_async.__version__ == _version.__version__
    ct = coupontools_async.AsyncClient("id", "secret")
    assert ct._user_agent.startswith(f"coupontools-async/{_version.__version__} ")
