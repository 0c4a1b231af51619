"""The command line explains itself: every setting's variable and default in ``--help``, a flag for
each one but secrets, ``--version``, and ``migrate --status``."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pliers import __version__
from pliers.cli.flags import env_name, env_only
from pliers.settings import Settings
from pliers.testing import TestDatabase

PLIERS = [sys.executable, "-m", "pliers"]
WIDE = {"COLUMNS": "250", "TERM": "dumb"}  # a line per option, whatever the terminal


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PLIERS_")}
    return subprocess.run(
        [*PLIERS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **WIDE, **env},
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def serve_help() -> str:
    result = run("serve", "--help")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("setting", sorted(Settings.model_fields))
def test_serve_help_names_every_variable(serve_help: str, setting: str) -> None:
    assert env_name(setting) in serve_help


@pytest.mark.parametrize("setting", sorted(n for n in Settings.model_fields if not env_only(n)))
def test_every_setting_but_secrets_has_a_flag_with_its_default(
    serve_help: str, setting: str
) -> None:
    default = Settings.model_fields[setting].default
    shown = (
        "unset"
        if default is None
        else str(default).lower()
        if isinstance(default, bool)
        else str(default)
    )
    assert f"env: {env_name(setting)}; default: {shown}]" in serve_help


def test_secrets_are_read_from_the_environment_only(serve_help: str) -> None:
    assert "--sendgrid-api-key" not in serve_help
    assert "environment only" in serve_help


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


def test_a_flag_is_checked_like_its_variable() -> None:
    result = run("serve", "--port", "eighty")
    assert result.returncode == 2
    assert "PLIERS_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_reload_is_refused_with_several_workers(tmp_path: Path) -> None:
    result = run(
        "serve", "--reload", "--workers", "2", "--database-url", "postgresql://u@127.0.0.1:1/x"
    )
    assert result.returncode == 2
    assert "--reload" in result.stderr


def test_migrate_status_lists_pending_then_applied_and_finds_a_changed_one(
    tmp_path: Path,
) -> None:
    url = "sqlite:///pliers.db"
    before = run("migrate", "--status", "--database-url", url, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert all(line.startswith("pending ") for line in before.stdout.splitlines())
    names = [line.split()[1] for line in before.stdout.splitlines()]
    assert names[0] == "0001_events.sql"

    assert run("migrate", "--database-url", url, cwd=tmp_path).returncode == 0
    after = run("migrate", "--status", "--database-url", url, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert [line.split()[:2] for line in after.stdout.splitlines()] == [
        ["applied", name] for name in names
    ]
    assert "0 pending" in after.stderr

    with sqlite3.connect(tmp_path / "pliers.db") as db:
        db.execute("UPDATE pliers_migrations SET checksum = 'edited' WHERE name = ?", (names[1],))
        db.execute("DELETE FROM pliers_migrations WHERE name = ?", (names[-1],))
    changed = run("migrate", "--status", "--database-url", url, cwd=tmp_path)
    assert changed.returncode == 1
    states: dict[str, str] = {}
    for line in changed.stdout.splitlines():
        state, name = line.split()[:2]
        states[name] = state
    assert states[names[1]] == "changed"
    assert states[names[-1]] == "pending"
    assert names[1] in changed.stderr


@pytest.mark.integration
async def test_migrate_status_on_postgres_finds_a_changed_migration(
    pliers_db: TestDatabase,
) -> None:
    clean = await asyncio.to_thread(run, "migrate", "--status", "--database-url", pliers_db.url)
    assert clean.returncode == 0, clean.stderr
    assert "applied  0001_events.sql" in clean.stdout
    await pliers_db.connection.execute(
        "UPDATE pliers_migrations SET checksum = 'edited' WHERE name = '0002_forms.sql'"
    )
    changed = await asyncio.to_thread(run, "migrate", "--status", "--database-url", pliers_db.url)
    assert changed.returncode == 1
    assert "changed  0002_forms.sql" in changed.stdout
