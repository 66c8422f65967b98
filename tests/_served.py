"""``coupontools sandbox serve`` in a subprocess, for tests that need a real port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

__all__ = ["free_port", "served"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def served(*options: str, output: list[str] | None = None) -> Iterator[str]:
    """``coupontools sandbox serve`` in a subprocess on a free loopback port: its base URL.

    With ``output``, what the server printed is appended to it once it stopped.
    """
    port = free_port()
    command = [sys.executable, "-m", "coupontools_async", "sandbox", "serve"]
    command += ["--port", str(port), *options]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"sandbox did not start: {out}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            if output is not None:
                output.append(proc.stdout.read().decode(errors="replace"))
            proc.stdout.close()
