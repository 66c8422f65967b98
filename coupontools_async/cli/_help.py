"""Help that reads plainly: no ``<bool>`` on flags, argument names as given in usage."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


def _readable(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.metavar = ""  # a flag takes no value: no "<bool>" label
    return params


def _usage(command: Any, ctx: Any) -> list[str]:
    """``[OPTIONS] CARD FILE``: argument names as given, ``[X]`` when optional."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        name = param.metavar or param.name.upper()
        name = name if param.required else f"[{name}]"
        pieces.append(name + ("..." if param.nargs != 1 else ""))
    return pieces


class _Command(TyperCommand):
    """A command whose help has no ``<bool>`` on flags and no ``{CARD}`` in usage."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage(self, ctx)


class _Group(TyperGroup):
    """A group whose help has no ``<bool>`` on flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


def _group(help: str) -> typer.Typer:
    return typer.Typer(cls=_Group, help=help, no_args_is_help=True)


def _use_readable_commands(app: typer.Typer) -> None:
    """Every command of ``app`` and its groups gets :class:`_Command`'s help."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is TyperCommand:  # not one chosen on purpose
            info.cls = _Command
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _use_readable_commands(group.typer_instance)
