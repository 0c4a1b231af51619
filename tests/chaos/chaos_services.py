"""Throwaway PostgreSQL and Redis servers that a chaos test may stop, hang and restart.

Every signal goes to a process this suite started (found from the server's own pid), never to
the shared services of the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from pliers.testing import throwaway


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


def _wait_port(port: int, up: bool, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.02)
    raise TimeoutError(f"port {port} still {'closed' if up else 'open'} after {seconds} s")


class Postgres:
    """A throwaway PostgreSQL (from :mod:`pliers.testing.throwaway`) that can be hung and
    restarted on the same port and data."""

    def __init__(self) -> None:
        self.server = throwaway.start_postgres()
        self.url = self.server.url
        self.port = urlsplit(self.url).port or 5432
        self.data = os.path.join(self.server.directory, "data")

    def _pid(self) -> int:
        return int(Path(self.data, "postmaster.pid").read_text().split()[0])

    @contextlib.contextmanager
    def hung(self) -> Iterator[None]:
        """SIGSTOP the postmaster and every backend; it accepts connections and answers nothing."""
        pids = [self._pid()]
        pids += _children(pids[0])
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = throwaway._postgres_bin("pg_ctl")
        assert pg_ctl is not None
        done = subprocess.run(
            throwaway._as_unprivileged([pg_ctl, "-D", self.data, *args]),
            capture_output=True,
            text=True,
            check=False,
            cwd=self.server.directory,
        )
        assert done.returncode == 0, done.stderr or done.stdout

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.server.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        log = os.path.join(self.server.directory, "log")
        self._pg_ctl("-l", log, "-o", options, "-w", "start")

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            for pid in [self._pid(), *_children(self._pid())]:
                os.kill(pid, signal.SIGCONT)
        throwaway.stop(self.server)


class Redis:
    """A redis-server with its default persistence: SIGTERM saves the data, a start loads it."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        self.binary = binary
        self.directory = tempfile.mkdtemp(prefix="pliers-chaos-redis-")
        self.port = throwaway.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        options = ["--bind", "127.0.0.1", "--dir", self.directory, "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), *options, "--save", "3600 1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_port(self.port, up=True)

    @contextlib.contextmanager
    def hung(self) -> Iterator[None]:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def terminate(self) -> None:
        """SIGTERM: Redis saves its data (dump.rdb) and exits."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)
        self.process = None
        _wait_port(self.port, up=False)

    def close(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)
