"""A served sandbox in another process: ``coupontools sandbox serve`` on a free loopback port.

::

    with served("--sessions", "0", "--latency", "0.05") as server:
        ...  # server.url, server.cpu_seconds(), server.rss_mb()

It is the same helper as the test suite's ``served()``: start the command with uvicorn,
wait until the port answers an authenticated request, stop it on exit.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import httpx
import psutil

__all__ = ["AUTH_HEADERS", "CLIENT_ID", "CLIENT_SECRET", "Server", "free_port", "served"]

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
AUTH_HEADERS = {
    "X-Client-Id": CLIENT_ID,
    "X-Client-Secret": CLIENT_SECRET,
    "x-api-key": CLIENT_ID,
    "x-api-secret": CLIENT_SECRET,
}
"""The two header pairs the API reads (v3 and part of v4: X-Client-*; v4 loyalty: x-api-*)."""


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``coupontools sandbox serve`` process."""

    url: str
    process: subprocess.Popen[bytes]
    options: tuple[str, ...]

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def rss_mb(self) -> float:
        """The server's resident memory now, in MB."""
        rss: int = psutil.Process(self.pid).memory_info().rss
        return rss / 1e6


@contextlib.contextmanager
def served(*options: str, startup_timeout: float = 60.0) -> Iterator[Server]:
    """Serve a sandbox in a subprocess with these ``serve`` options; yields the server."""
    port = free_port()
    command = [sys.executable, "-m", "coupontools_async", "sandbox", "serve"]
    command += ["--port", str(port), *options]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        server = Server(f"http://127.0.0.1:{port}", process, tuple(options))
        try:
            _wait_until_up(server, log, startup_timeout)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_until_up(server: Server, log: IO[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox did not start ({server.options}): {_read(log)}")
        try:
            response = httpx.get(
                server.url + "/v4/loyalty/loyalty-cards", headers=AUTH_HEADERS, timeout=2.0
            )
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code == 200:
            return
        raise RuntimeError(f"the sandbox answered {response.status_code}: {response.text[:200]}")


def _read(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:]
