"""The ``pliers`` command as a user runs it: real processes, real databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pliers.testing import TestDatabase

PLIERS = [sys.executable, "-m", "pliers"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLIERS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root@localhost/x", "unsupported scheme 'mysql'"),
        ("sqlite://relative.db", "a SQLite URL is sqlite:///relative/path.db"),
        ("postgresql://user@host:notaport/db", "Port could not be cast"),
    ],
)
def test_bad_database_url_is_one_line_and_exit_2(url: str, expected: str) -> None:
    result = run("serve", env={"PLIERS_DATABASE_URL": url})
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_names_the_variable() -> None:
    result = run("migrate", env={"PLIERS_MAX_BODY_BYTES": "lots"})
    assert result.returncode == 2
    assert "PLIERS_MAX_BODY_BYTES" in result.stderr


def test_unreachable_database_is_one_line_and_exit_1() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/pliers"
    result = run("serve", env={"PLIERS_DATABASE_URL": url})
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_applies_once_on_sqlite(tmp_path: Path) -> None:
    env = {"PLIERS_DATABASE_URL": "sqlite:///data/pliers.db"}
    first = run("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_events.sql (sqlite)" in first.stderr
    assert (tmp_path / "data" / "pliers.db").exists()
    again = run("migrate", env=env, cwd=tmp_path)
    assert "up to date" in again.stderr


@pytest.mark.integration
async def test_migrate_on_postgres(pliers_db: TestDatabase) -> None:
    """The test database is a clone of a migrated template, so there is nothing to apply."""
    result = run("migrate", "--database-url", pliers_db.url)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr
    names = await pliers_db.connection.fetch("SELECT name FROM pliers_migrations ORDER BY name")
    assert names[0]["name"] == "0001_events.sql"


def test_serve_on_the_embedded_default_answers_http(tmp_path: Path) -> None:
    """`pliers serve` with no configuration: SQLite file in the working directory."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIERS_")}
    server = subprocess.Popen(
        [*PLIERS, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert health.json()["checks"]["database"]["backend"] == "sqlite"
        created = httpx.post(
            f"{base}/v1/events/events", json={"event": {"type": "cli.test", "aggregateId": "c"}}
        )
        assert created.status_code == 201
        assert (tmp_path / "pliers.db").exists()
        docs = httpx.get(f"{base}/openapi.json")
        assert "/v1/events/events" in docs.json()["paths"]
        # protected mode (no keys): a name rebound to 127.0.0.1 is not answered
        rebound = httpx.get(f"{base}/v1/forms/forms", headers={"Host": "evil.example:8000"})
        assert rebound.status_code == 421
        assert rebound.json()["error"]["code"] == "HOST_NOT_ALLOWED"
        assert httpx.get(f"{base}/health", headers={"Host": f"localhost:{port}"}).is_success
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.mark.integration
async def test_migrate_fails_within_its_timeout_while_another_holds_the_lock(
    pliers_db: TestDatabase,
) -> None:
    """A migrator that never finishes (hung, or holding the lock) fails start-up in bounded time."""
    from pliers.storage.postgres.events import _MIGRATION_LOCK

    await pliers_db.connection.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        started = time.monotonic()
        result = run(
            "migrate", "--database-url", pliers_db.url, env={"PLIERS_MIGRATE_TIMEOUT": "1"}
        )
        took = time.monotonic() - started
    finally:
        await pliers_db.connection.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    assert result.returncode == 1
    assert "PLIERS_MIGRATE_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr
    assert took < 15


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_migrate_on_a_locked_sqlite_file_fails_within_the_db_timeout(
    tmp_path: Path, journal: str
) -> None:
    """A file another process holds (in WAL mode, as every Pliers database is after its first
    start, or in rollback-journal mode, as a copied file may be) fails within PLIERS_DB_TIMEOUT with
    one line; opening the file waits no longer than any statement does."""
    import sqlite3

    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute(f"PRAGMA journal_mode={journal}")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # the lock, held
    try:
        started = time.monotonic()
        result = run(
            "migrate", env={"PLIERS_DATABASE_URL": f"sqlite:///{path}", "PLIERS_DB_TIMEOUT": "0.5"}
        )
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "database is locked" in result.stderr
    assert "Traceback" not in result.stderr
    assert took < 15
