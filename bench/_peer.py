"""The peer client: openapi-python-client run on our own spec, at bench time, in a temp dir.

Nothing generated here is kept: it is written under the run's scratch directory and
imported from there. When the generator refuses the spec (a non-zero exit, or no
``wallet_users_get`` module), it is run again on a reduced copy holding only that
operation and the schemas it references, and the part says so.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._report import Context

__all__ = ["Peer", "peer"]

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "coupontools.yaml"
PACKAGE = "coupontools_peer"
OPERATION_ID = "wallet_users_get"
CONFIG = (
    f"package_name_override: {PACKAGE}\nproject_name_override: coupontools-peer\npost_hooks: []\n"
)


@dataclass
class Peer:
    """The generated client, imported."""

    client_class: Any
    """``coupontools_peer.client.Client``."""
    get_module: Any
    """``coupontools_peer.api.wallet_users.wallet_users_get`` (``asyncio(...)``)."""
    user_model: Any
    """``coupontools_peer.models.WalletUser`` (``from_dict``)."""
    version: str
    reduced: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One sentence on how it was generated, for RESULTS.md."""
        source = (
            "a reduced copy of spec/coupontools.yaml (only `wallet_users_get` and its schemas: "
            "the generator refused the full spec)"
            if self.reduced
            else "the full spec/coupontools.yaml"
        )
        text = (
            f"openapi-python-client {self.version} generated the peer client from {source} "
            f"in {self.seconds:.1f} s, into a temporary directory (never committed)"
        )
        if self.warnings:
            text += "; its warnings (about other operations): " + "; ".join(self.warnings)
        return text + "."


def peer(ctx: Context) -> Peer:
    """Generate (once per run) and import the peer client."""
    cached = ctx.shared.get("peer")
    if isinstance(cached, Peer):
        return cached
    made = _generate(ctx.tmp / "peer")
    ctx.shared["peer"] = made
    return made


def _generate(where: Path) -> Peer:
    from importlib.metadata import version

    where.mkdir(parents=True, exist_ok=True)
    config = where / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    started = time.perf_counter()
    reduced = False
    ok, output = _run_generator(SPEC, where, config)
    if not ok:
        reduced = True
        small = where / "reduced.yaml"
        small.write_text(yaml.safe_dump(_reduced_spec(), sort_keys=False), encoding="utf-8")
        ok, output = _run_generator(small, where, config)
        if not ok:
            raise RuntimeError(f"openapi-python-client failed even on the reduced spec:\n{output}")
    seconds = time.perf_counter() - started
    sys.path.insert(0, str(where))
    importlib.invalidate_caches()
    client_module = importlib.import_module(f"{PACKAGE}.client")
    get_module = importlib.import_module(f"{PACKAGE}.api.wallet_users.{OPERATION_ID}")
    models_module = importlib.import_module(f"{PACKAGE}.models")
    return Peer(
        client_class=client_module.Client,
        get_module=get_module,
        user_model=models_module.WalletUser,
        version=version("openapi-python-client"),
        reduced=reduced,
        seconds=seconds,
        warnings=_warnings(output),
    )


def _run_generator(spec: Path, where: Path, config: Path) -> tuple[bool, str]:
    target = where / PACKAGE
    command = [sys.executable, "-m", "openapi_python_client", "generate"]
    command += ["--path", str(spec), "--meta", "none", "--output-path", str(target)]
    command += ["--config", str(config), "--overwrite"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    module = target / "api" / "wallet_users" / f"{OPERATION_ID}.py"
    return done.returncode == 0 and module.exists(), output


def _warnings(output: str) -> list[str]:
    """The generator's WARNING headlines with the reason line that follows each."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    found = []
    for index, line in enumerate(lines):
        if line.startswith("WARNING"):
            reason = lines[index + 1] if index + 1 < len(lines) else ""
            match = re.search(r"\(([^()]*)\)", reason)
            reason = f"{match.group(1)}, response left out" if match else reason
            found.append(f"{line.removeprefix('WARNING').strip()} — {reason}")
    return found


def _reduced_spec() -> dict[str, Any]:
    """The spec with only the benchmarked operation and the schemas it references."""
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    paths: dict[str, Any] = {}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == OPERATION_ID:
                kept = {k: v for k, v in item.items() if k == "parameters"}
                kept[method] = operation
                paths[path] = kept
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    wanted: dict[str, Any] = {}
    todo = list(_refs(paths))
    while todo:
        name = todo.pop()
        if name in wanted or name not in schemas:
            continue
        wanted[name] = schemas[name]
        todo.extend(_refs(schemas[name]))
    reduced = {k: v for k, v in spec.items() if k not in ("paths", "components", "webhooks")}
    reduced["paths"] = paths
    reduced["components"] = {"schemas": wanted}
    return reduced


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.append(ref.rsplit("/", 1)[1])
        for value in node.values():
            found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found
