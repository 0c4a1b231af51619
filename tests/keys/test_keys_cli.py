"""``pliers keys`` and protected mode, as an operator runs them: real processes."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PLIERS = [sys.executable, "-m", "pliers"]


def clean_env(**given: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIERS_")}
    return env | given


def run(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLIERS, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> Iterator[tuple[str, list[str]]]:
    """A `pliers serve` process; yields its base URL and, after it stops, its output lines."""
    port = free_port()
    server = subprocess.Popen(
        [*PLIERS, "serve", "--port", str(port), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base, output
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
        output.extend(out.splitlines())


def test_create_list_revoke_on_sqlite(tmp_path: Path) -> None:
    env = clean_env(PLIERS_DATABASE_URL="sqlite:///keys.db")
    created = run(
        "keys",
        "create",
        "--name",
        "ci",
        "--scope",
        "events:read",
        "--scope",
        "forms:read",
        "--expires-in",
        "30d",
        env=env,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("plk_")
    assert len(created.stdout.splitlines()) == 1
    assert "shown once" in created.stderr
    key_id = secret.split("_")[1]

    listed = run("keys", "list", env=env, cwd=tmp_path)
    assert key_id in listed.stdout
    assert "events:read, forms:read" in listed.stdout
    assert "expires" in listed.stdout
    assert secret not in listed.stdout + listed.stderr
    assert secret.encode() not in (tmp_path / "keys.db").read_bytes()

    revoked = run("keys", "revoke", key_id, env=env, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in run("keys", "list", env=env, cwd=tmp_path).stdout
    unknown = run("keys", "revoke", "0000000000000000", env=env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--scope", "events:everything"], "unknown scope"),
        (["--scope", "events:read", "--expires-in", "soon"], "--expires-in"),
    ],
)
def test_bad_create_is_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    env = clean_env(PLIERS_DATABASE_URL="sqlite:///keys.db")
    result = run("keys", "create", "--name", "x", *args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_protected_mode_refuses_a_public_interface_without_a_key(tmp_path: Path) -> None:
    env = clean_env()
    result = run("serve", "--host", "0.0.0.0", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "PLIERS_ADMIN_KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    via_env = run("serve", env=clean_env(PLIERS_HOST="10.1.2.3"), cwd=tmp_path)
    assert via_env.returncode == 2
    assert "PLIERS_ADMIN_KEY" in via_env.stderr


def test_a_short_admin_key_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run("serve", env=clean_env(PLIERS_ADMIN_KEY="too-short"), cwd=tmp_path)
    assert result.returncode == 2
    assert "PLIERS_ADMIN_KEY" in result.stderr
    assert "32" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_open_on_loopback_warns_once(tmp_path: Path) -> None:
    with serving(env=clean_env(), cwd=tmp_path) as (base, output):
        created = httpx.post(
            f"{base}/v1/events/events", json={"event": {"type": "open.test", "aggregateId": "o"}}
        )
        assert created.status_code == 201
    assert sum("authentication is off" in line for line in output) == 1


@pytest.mark.integration
def test_with_a_key_the_server_listens_beyond_loopback_and_cli_revocation_is_immediate(
    pliers_db_url: str,
) -> None:
    # remembered keys would be trusted for 5 minutes: only the signal can make this prompt
    env = clean_env(PLIERS_DATABASE_URL=pliers_db_url, PLIERS_KEY_CACHE_SECONDS="300")
    created = run("keys", "create", "--name", "ops", "--scope", "events:read", env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    with serving("--host", "0.0.0.0", env=env) as (base, output):
        headers = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(f"{base}/v1/events/events/aggregates/x").status_code == 401
        assert (
            httpx.get(f"{base}/v1/events/events/aggregates/x", headers=headers).status_code == 200
        )
        revoked = run("keys", "revoke", secret.split("_")[1], env=env)
        assert revoked.returncode == 0, revoked.stderr
        # another process revoked it: PostgreSQL tells the server at commit
        deadline = time.monotonic() + 10
        while (
            httpx.get(f"{base}/v1/events/events/aggregates/x", headers=headers).status_code != 401
        ):
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.05)
    assert not any("authentication is off" in line for line in output)
    assert all(secret not in line for line in output)


def test_admin_key_is_accepted(tmp_path: Path) -> None:
    admin = secrets.token_hex(20)
    with serving(env=clean_env(PLIERS_ADMIN_KEY=admin), cwd=tmp_path) as (base, _):
        assert httpx.get(f"{base}/v1/forms/forms").status_code == 401
        listed = httpx.get(f"{base}/v1/forms/forms", headers={"Authorization": f"Bearer {admin}"})
        assert listed.status_code == 200
