"""``coupontools sessions``: export a coupon's sessions (v3)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import ExportFormat, FormatOption, OutputOption, SessionStateChoice, options
from ._help import _group

group = _group("Coupon sessions (v3).")


@group.command("export")
def sessions_export(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Argument(metavar="CAMPAIGN", help="Coupon id (cam_...).")],
    state: Annotated[
        SessionStateChoice, typer.Option(help="Which sessions: all, or by what happened.")
    ] = SessionStateChoice.all,
    start_date: Annotated[
        str | None, typer.Option(help="From this UTC date (YYYY-MM-DD or YYYY-MM-DD HH:MM).")
    ] = None,
    end_date: Annotated[
        str | None, typer.Option(help="Up to this UTC date (YYYY-MM-DD or YYYY-MM-DD HH:MM).")
    ] = None,
    fmt: FormatOption = ExportFormat.csv,
    output: OutputOption = None,
) -> None:
    """Export a coupon's sessions, streaming page by page.

    Columns: session, session_url, sequenceid, customid, then the session's status
    (created_date_utc, opened, claimed, validated, ... in UTC).
    """
    from ._records import SESSION_COLUMNS, _export_all, _session_record

    _export_all(
        options(ctx),
        lambda ct: ct.sessions.iter(
            campaign=campaign, state=state.value, start_date=start_date, end_date=end_date
        ).pages(),
        output,
        fmt=fmt,
        columns=SESSION_COLUMNS,
        record=_session_record,
        what="sessions",
    )
