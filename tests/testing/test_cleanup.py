"""Leftovers of a killed run are removed by the next run; a live run's never are."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import asyncpg
import pytest
import redis.asyncio as aioredis

from pliers.testing import TestCache, TestDatabase
from pliers.testing.postgres import RUN_APPLICATION, DatabasePool

pytestmark = pytest.mark.integration

HANGING = """
import os
import pathlib
import time


async def test_hangs(pliers_db, pliers_cache):
    pathlib.Path(os.environ["PLIERS_MARKER"]).write_text(f"{pliers_db.name} {pliers_cache.index}")
    time.sleep(600)
"""

QUICK = """
async def test_quick(pliers_db, pliers_cache):
    assert await pliers_db.connection.fetchval("SELECT 1") == 1
    assert await pliers_cache.dbsize() == 0
"""


async def _databases(admin_url: str, pattern: str) -> list[str]:
    conn = await asyncpg.connect(admin_url)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", pattern)
    finally:
        await conn.close()
    return [r["datname"] for r in rows]


async def _gone(admin_url: str, pattern: str) -> list[str]:
    """The databases matching ``pattern`` once they are gone, or after 30 s those left."""
    for _ in range(300):
        if not (left := await _databases(admin_url, pattern)):
            break
        await asyncio.sleep(0.1)
    return left


async def _until_gone(admin_url: str, application: str) -> None:
    """Wait while backends of the killed run finish what they were doing."""
    conn = await asyncpg.connect(admin_url)
    try:
        for _ in range(600):
            if not await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application
            ):
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"backends of {application} still there after 30 s")


def _wait_for(path: Path, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"the inner run never reached its test ({path} not written)")


async def test_killed_runs_databases_and_claims_go_at_the_next_run(
    inner: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    pliers_postgres: DatabasePool,
    pliers_db: TestDatabase,
    pliers_cache: TestCache,
) -> None:
    """SIGKILL mid-test leaves databases and a Redis claim; the next run removes them."""
    marker = inner.path / "marker"
    monkeypatch.setenv("PLIERS_MARKER", str(marker))
    inner.makepyfile(test_hangs=HANGING)
    process = inner.popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_hangs.py"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        name, index = _wait_for(marker).split()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    run = re.fullmatch(r"pliers_test_([0-9a-f]{8})_main_\d+", name)
    assert run is not None, name
    await _until_gone(pliers_postgres.admin_url, RUN_APPLICATION + run[1])
    left = await _databases(pliers_postgres.admin_url, f"pliers_test_{run[1]}_%")
    assert name in left
    claims = aioredis.Redis.from_url(pliers_cache.url.rsplit("/", 1)[0] + "/0")
    try:
        claim = cast(bytes | None, await claims.get(f"pliers:test:claim:{index}"))
        assert claim is not None
        assert claim.decode().startswith(f"run-{run[1]}:")

        marker.unlink()
        inner.makepyfile(test_hangs=QUICK)
        inner.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)

        # another run starting meanwhile may be the one dropping them: let it finish
        assert await _gone(pliers_postgres.admin_url, f"pliers_test_{run[1]}_%") == []
        claim = cast(bytes | None, await claims.get(f"pliers:test:claim:{index}"))
        assert claim is None or not claim.decode().startswith(f"run-{run[1]}:")
    finally:
        await claims.aclose()
    # this run is alive: its databases survived the other run's cleanup
    assert await _databases(pliers_postgres.admin_url, pliers_db.name) == [pliers_db.name]
    assert await pliers_cache.ping()


async def test_a_finished_run_leaves_only_the_database_it_was_told_to_keep(
    inner: pytest.Pytester, pliers_postgres: DatabasePool
) -> None:
    """Every database of a run goes, ready clones included; --pliers-keep-db keeps a failing
    test's one under a name out of the cleanup's way and prints its URL."""
    inner.makepyfile(
        test_some="""
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_database(n, pliers_db_url):
            print("DATABASE", pliers_db_url)

        async def test_fails(pliers_db):
            await pliers_db.connection.execute("CREATE TABLE evidence (x int)")
            assert False, "look at the database"
        """
    )
    result = inner.runpytest_subprocess("-s", "--pliers-db-pool=3", "--pliers-keep-db")
    result.assert_outcomes(passed=6, failed=1)
    urls = re.findall(r"DATABASE (\S+)", result.stdout.str())
    assert len(set(urls)) == 6
    run = re.search(r"pliers_test_([0-9a-f]{8})_", urls[0])
    assert run is not None
    found = re.search(r"postgresql://\S+/(pliers_kept_\S+)", result.stdout.str())
    assert found is not None, result.stdout.str()
    kept = found[1]
    result.stdout.fnmatch_lines(["*databases kept for inspection*", f"*test_fails*{kept}*"])
    try:
        # dropped after the run ends, off its path
        assert await _gone(pliers_postgres.admin_url, f"pliers_test_{run[1]}_%") == []
        assert await _databases(pliers_postgres.admin_url, kept) == [kept]
        conn = await asyncpg.connect(found[0])
        try:
            assert await conn.fetchval("SELECT to_regclass('evidence')::text") == "evidence"
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(pliers_postgres.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{kept}" WITH (FORCE)')
        finally:
            await admin.close()
