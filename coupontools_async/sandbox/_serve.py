"""Serve a Sandbox on a port with uvicorn (the ``server`` extra)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from ._asgi import _Abort
from ._sandbox import Sandbox
from ._state import SandboxConfig

__all__ = ["serve"]


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    seed: int = 0,
    sessions: int = 2000,
    empty: bool = False,
    client_id: str = "sandbox-client-id",
    client_secret: str = "sandbox-client-secret",
    fault_rate: float = 0.0,
    fault_kinds: Sequence[str] = ("500", "503", "429"),
    retry_after: float = 1.0,
    latency: float = 0.0,
    session_page_size: int | None = None,
    log_level: str = "warning",
) -> None:
    """Run a sandbox on ``host:port`` until interrupted (blocking)."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - depends on the install
        raise SystemExit(
            "serving the sandbox needs uvicorn: pip install 'coupontools-async[server]'"
        ) from None
    config = SandboxConfig()
    if session_page_size:
        config.session_page_size = session_page_size
    sandbox = Sandbox(seed=seed, client_id=client_id, client_secret=client_secret, config=config)
    if not empty:
        sandbox.populate(sessions=sessions)
    if fault_rate:
        sandbox.faults.inject(rate=fault_rate, kinds=list(fault_kinds), retry_after=retry_after)
    if latency:
        sandbox.faults.latency(latency)
    # The default credentials are public; a secret you chose is not echoed.
    secret = client_secret if client_secret == "sandbox-client-secret" else "(as given)"
    print(
        f"Coupontools sandbox on http://{host}:{port} "
        f"(client id {client_id!r}, client secret {secret!r}); Ctrl-C stops it",
        flush=True,
    )
    _log_faults_in_one_line()
    uvicorn.run(
        sandbox.asgi_app(),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        # Per-request work nobody reads: an access log filtered out below info, and the
        # X-Forwarded-* rewrite of the client's address, which the sandbox never looks at.
        access_log=log_level.lower() in ("info", "debug", "trace"),
        proxy_headers=False,
    )


class _NoAbortTraceback(logging.Filter):
    """Drops uvicorn's traceback for a connection the sandbox dropped on purpose.

    The fault was logged in one line when it was injected; a traceback per drop would
    flood the output (a test reading it through a pipe blocked after about 85).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _Abort))


def _log_faults_in_one_line() -> None:
    faults = logging.getLogger("coupontools_async.sandbox")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    faults.addHandler(handler)
    faults.setLevel(logging.INFO)
    faults.propagate = False
    logging.getLogger("uvicorn.error").addFilter(_NoAbortTraceback())
