"""A Pliers server in a process of its own, which a test can stop and start again."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx


class ServerProcess:
    """``pliers serve`` in a subprocess on a fixed port, so it can be stopped and started again."""

    def __init__(self, database_url: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.database_url = database_url
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PLIERS_DATABASE_URL": self.database_url,
            "PLIERS_LOG_LEVEL": "warning",
            "PLIERS_DB_POOL_MIN": "1",
            "PLIERS_DB_POOL_MAX": "4",
        }
        env.pop("PLIERS_REDIS_URL", None)
        env.pop("PLIERS_SENDGRID_API_KEY", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pliers", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.base_url}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                _, err = self.process.communicate(timeout=10)
                raise RuntimeError(f"server did not start: {err.decode()}")
            time.sleep(0.1)

    def terminate(self) -> None:
        """``kill -TERM``, and wait for the process to end."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.communicate(timeout=60)
        self.process = None

    async def restart(self) -> None:
        await asyncio.to_thread(self.terminate)
        await asyncio.to_thread(self.start)


def default_sigint() -> None:
    """``preexec_fn`` for a child that must stop on SIGINT as it would at a terminal: a run
    started in the background (CI) ignores SIGINT, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
