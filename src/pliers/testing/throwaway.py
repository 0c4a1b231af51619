"""Throwaway PostgreSQL and Redis servers started from installed binaries, for one test run."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Owner of a throwaway PostgreSQL when the run is root (PostgreSQL refuses to run as root).
UNPRIVILEGED_USER = "nobody"


class StartError(RuntimeError):
    """A throwaway server could not be started; the message says why."""


@dataclass(frozen=True)
class Server:
    """A server this run started: how to reach it and how to stop it."""

    kind: str  # "postgres" or "redis"
    url: str
    directory: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _as_unprivileged(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise StartError("running as root and `runuser` is missing to start PostgreSQL as a user")
    return [runuser, "-u", UNPRIVILEGED_USER, "--", *cmd]


def start_postgres() -> Server:
    """initdb + pg_ctl start in a temporary directory, on a free port, with fsync off."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise StartError("initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")
    directory = tempfile.mkdtemp(prefix="pliers-pg-")
    data = os.path.join(directory, "data")
    if os.geteuid() == 0:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)
    port = free_port()
    options = (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c wal_level=minimal "
        "-c max_wal_senders=0 -c max_connections=200"
    )
    steps = [
        [initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "-N"],
        [pg_ctl, "-D", data, "-l", os.path.join(directory, "log"), "-o", options, "-w", "start"],
    ]
    for step in steps:
        done = subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
            _as_unprivileged(step), capture_output=True, text=True, check=False, cwd=directory
        )
        if done.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            raise StartError(f"{Path(step[0]).name} failed: {(done.stderr or done.stdout)[-500:]}")
    pid = int(Path(data, "postmaster.pid").read_text().split()[0])
    return Server("postgres", f"postgresql://postgres@127.0.0.1:{port}/postgres", directory, pid)


def start_redis() -> Server:
    """``redis-server`` on a free port with persistence off."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartError("redis-server not found on PATH")
    directory = tempfile.mkdtemp(prefix="pliers-redis-")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed binary, arguments built here
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"redis-server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Server("redis", f"redis://127.0.0.1:{port}/0", directory, process.pid)
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise StartError("redis-server did not accept connections within 10 s")


def stop(server: Server) -> None:
    """Stop ``server`` at once and remove its files; it holds nothing worth keeping."""
    if server.kind == "postgres":
        pg_ctl = _postgres_bin("pg_ctl")
        data = os.path.join(server.directory, "data")
        if pg_ctl is not None and os.path.exists(data):
            subprocess.run(  # noqa: S603 - fixed binary, arguments built here
                _as_unprivileged([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                check=False,
            )
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGKILL)
    shutil.rmtree(server.directory, ignore_errors=True)
