"""Finding the PostgreSQL and Redis servers tests run against.

In order: the URL in ``PLIERS_TEST_DATABASE_URL`` / ``PLIERS_TEST_REDIS_URL``; a server on the
default local port (off with ``PLIERS_TEST_DEFAULT_PORTS=0``); a throwaway server started from
installed binaries (off with ``PLIERS_TEST_START_SERVERS=0``), shared by the run's xdist workers
and stopped when the run ends. When none answers, tests that need the service are skipped, or
fail under ``PLIERS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

from pliers.testing import throwaway

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
STATE_PREFIX = "pliers-test-run-"

POSTGRES_HOW = (
    "Set PLIERS_TEST_DATABASE_URL=postgresql://user@host:port/postgres (a role that may "
    "CREATE DATABASE), run PostgreSQL on 127.0.0.1:5432, or install PostgreSQL's server "
    "binaries (initdb, pg_ctl) so a throwaway server can be started"
)
REDIS_HOW = (
    "Set PLIERS_TEST_REDIS_URL=redis://host:port, run Redis on 127.0.0.1:6379, or put "
    "redis-server on PATH so a throwaway server can be started"
)


class UnavailableError(Exception):
    """No server of a kind could be found or started; the message lists what was tried."""


def services_required() -> bool:
    """True when a missing service must fail the test run instead of skipping (CI)."""
    return os.environ.get("PLIERS_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes")


def unavailable(service: str, reason: str, how: str) -> NoReturn:
    """Skip the test, or fail it under ``PLIERS_REQUIRE_SERVICES=1``."""
    message = f"{service} unavailable: {reason}. {how}"
    if services_required():
        pytest.fail(f"{message} (PLIERS_REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
    pytest.skip(message)


def _enabled(variable: str) -> bool:
    return os.environ.get(variable, "1").lower() not in ("0", "false", "no")


def postgres_admin_url() -> str:
    return os.environ.get("PLIERS_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def redis_url() -> str:
    return os.environ.get("PLIERS_TEST_REDIS_URL") or DEFAULT_REDIS_URL


def listening(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``url``'s host and port."""
    parts = urlsplit(url)
    default_port = 5432 if parts.scheme.startswith("postgres") else 6379
    try:
        socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout
        ).close()
    except OSError:
        return False
    return True


def state_directory(run: str) -> Path:
    return Path(tempfile.gettempdir()) / f"{STATE_PREFIX}{run}"


class Services:
    """The servers of one run, found once per process; throwaway ones are shared by its workers."""

    def __init__(self, run: str, owner: int) -> None:
        self.run = run
        self.owner = owner  # pid of the run's main process, which stops what workers start
        self.state = state_directory(run)
        self._found: dict[str, str | UnavailableError] = {}

    def postgres(self) -> str:
        return self._find(
            "postgres", "PLIERS_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL, throwaway.start_postgres
        )

    def redis(self) -> str:
        return self._find(
            "redis", "PLIERS_TEST_REDIS_URL", DEFAULT_REDIS_URL, throwaway.start_redis
        )

    def _find(
        self, kind: str, variable: str, default: str, start: Callable[[], throwaway.Server]
    ) -> str:
        if kind not in self._found:
            try:
                self._found[kind] = self._search(kind, variable, default, start)
            except UnavailableError as e:
                self._found[kind] = e
        found = self._found[kind]
        if isinstance(found, UnavailableError):
            raise found
        return found

    def _search(
        self, kind: str, variable: str, default: str, start: Callable[[], throwaway.Server]
    ) -> str:
        tried = []
        if explicit := os.environ.get(variable):
            if listening(explicit):
                return explicit
            tried.append(f"{variable}={explicit} does not answer")
        if _enabled("PLIERS_TEST_DEFAULT_PORTS"):
            if listening(default):
                return default
            tried.append(f"nothing on the default port ({default})")
        else:
            tried.append("default port not probed (PLIERS_TEST_DEFAULT_PORTS=0)")
        if _enabled("PLIERS_TEST_START_SERVERS"):
            try:
                return self._throwaway(kind, start)
            except throwaway.StartError as e:
                tried.append(f"no throwaway server: {e}")
        else:
            tried.append("no throwaway server (PLIERS_TEST_START_SERVERS=0)")
        raise UnavailableError("; ".join(tried))

    def _throwaway(self, kind: str, start: Callable[[], throwaway.Server]) -> str:
        """The run's throwaway server of ``kind``, started by whichever worker asks first."""
        self.state.mkdir(exist_ok=True)
        (self.state / "owner").write_text(str(self.owner))
        with _locked(self.state / "lock"):
            record = self.state / f"{kind}.json"
            if record.exists():
                return str(json.loads(record.read_text())["url"])
            remove_orphans()
            server = start()
            record.write_text(json.dumps(asdict(server)))
            return server.url

    def stop_started(self) -> None:
        """Stop the throwaway servers of this run (called once, by the run's main process)."""
        stop_started(self.run)


def stop_started(run: str) -> None:
    """Stop the throwaway servers run ``run`` started, if it started any."""
    if (state := state_directory(run)).exists():
        _stop_recorded(state)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _stop_recorded(directory: Path) -> None:
    for record in directory.glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            throwaway.stop(throwaway.Server(**json.loads(record.read_text())))
    shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans() -> None:
    """Stop throwaway servers whose run was killed before it could stop them."""
    for directory in Path(tempfile.gettempdir()).glob(f"{STATE_PREFIX}*"):
        try:
            owner = int((directory / "owner").read_text())
        except (OSError, ValueError):
            continue
        if not _alive(owner):
            _stop_recorded(directory)
