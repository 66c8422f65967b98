"""``coupontools webhooks``: parse a webhook body, ask Coupontools about an event."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import attrs
import typer

from ._common import UsageError, _guard, call, options
from ._help import _group
from ._output import _print_json, _print_pairs, _stdout, _tree, _unstructure

group = _group("Webhook payloads and their verification.")


@group.command("parse")
def webhooks_parse(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="The webhook body: a file, or - for stdin.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the event as JSON.")] = False,
) -> None:
    """Parse a webhook body and print the typed event (exit 1 if it is not a webhook)."""
    opts = options(ctx)
    with _guard(opts):
        from ..webhooks import UnknownEvent, parse

        if source != "-" and not Path(source).is_file():
            raise UsageError(f"no such file: {source}")
        body = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        event = parse(body)
    if as_json:
        if isinstance(event, UnknownEvent):
            data: Any = {"id": event.id, "type": event.type, "data": event.data}
        else:
            data = _unstructure(event)
        _print_json(data)
        return
    _stdout().print(_tree(event, f"{type(event).__name__} {event.type} {event.id}"))


@group.command("verify")
def webhooks_verify(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVT", help="Event id (evt_...).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Ask Coupontools about an event id: genuine events are known (exit 1 when not)."""
    from .._generated import models

    verification = call(options(ctx), lambda ct: ct.webhooks.verify(webhook=event_id))
    if as_json:
        _print_json(_unstructure(verification))
        return
    _print_pairs(
        f"Webhook {verification.webhook}: sent by Coupontools",
        [(f.name, getattr(verification, f.name)) for f in attrs.fields(models.WebhookVerification)],
    )
