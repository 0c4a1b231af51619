"""Finding servers: explicit URL, default port, throwaway server; skip or fail when none."""

from __future__ import annotations

import glob
import re
import shutil
import socket

import pytest

from pliers.testing import services, throwaway

pytestmark = pytest.mark.integration

NEEDS_BOTH = """
import os
import pathlib


def note(kind, url):
    if "URL_DIR" in os.environ:
        pathlib.Path(os.environ["URL_DIR"], kind).write_text(url)


async def test_database(pliers_db):
    note("database", pliers_db.url)
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 0

async def test_cache(pliers_cache):
    note("cache", pliers_cache.url)
    await pliers_cache.set("k", "v")
    assert await pliers_cache.get("k") == b"v"

def test_no_service():
    pass
"""


def closed_port() -> int:
    """A port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Explicit URLs at closed ports, and the default-port probe turned off."""
    monkeypatch.setenv(
        "PLIERS_TEST_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres"
    )
    monkeypatch.setenv("PLIERS_TEST_REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    monkeypatch.setenv("PLIERS_TEST_DEFAULT_PORTS", "0")
    monkeypatch.delenv("PLIERS_REQUIRE_SERVICES", raising=False)


@pytest.mark.usefixtures("nowhere")
def test_unreachable_services_skip_with_how_to_provide_them(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing to be found or started, the tests needing a service say how to get one."""
    monkeypatch.setenv("PLIERS_TEST_START_SERVERS", "0")
    inner.makepyfile(test_needs=NEEDS_BOTH)
    result = inner.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*SKIPPED*PostgreSQL unavailable: PLIERS_TEST_DATABASE_URL=*does not answer*"
            "Set PLIERS_TEST_DATABASE_URL=*",
            "*SKIPPED*Redis unavailable: PLIERS_TEST_REDIS_URL=*Set PLIERS_TEST_REDIS_URL=*",
        ]
    )


@pytest.mark.usefixtures("nowhere")
def test_require_services_turns_the_skip_into_a_failure(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under PLIERS_REQUIRE_SERVICES=1 (CI) a missing service fails the tests that need it."""
    monkeypatch.setenv("PLIERS_TEST_START_SERVERS", "0")
    monkeypatch.setenv("PLIERS_REQUIRE_SERVICES", "1")
    inner.makepyfile(test_needs=NEEDS_BOTH)
    result = inner.runpytest_subprocess()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*PostgreSQL unavailable*PLIERS_REQUIRE_SERVICES=1*"])
    assert result.ret != 0


@pytest.mark.skipif(
    throwaway._postgres_bin("initdb") is None or shutil.which("redis-server") is None,
    reason="needs PostgreSQL server binaries and redis-server installed",
)
@pytest.mark.usefixtures("nowhere")
def test_falls_back_to_throwaway_servers_shared_by_workers_and_stopped(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing at the URLs or default ports: the run starts its own servers, then stops them."""
    monkeypatch.setenv("URL_DIR", str(inner.path))
    inner.makepyfile(test_needs=NEEDS_BOTH)
    result = inner.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=3)
    database = (inner.path / "database").read_text()
    cache = (inner.path / "cache").read_text()
    assert ":5432/" not in database
    assert ":6379/" not in cache
    assert not services.listening(database)
    assert not services.listening(cache)
    run = re.search(r"pliers_test_([0-9a-f]{8})_", database)
    assert run is not None
    assert glob.glob(str(services.state_directory(run[1]))) == []


def test_explicit_url_is_used_when_it_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit URL that answers wins over the default port."""
    url = "redis://127.0.0.1:6379/0"
    monkeypatch.setenv("PLIERS_TEST_REDIS_URL", url)
    if not services.listening(url):
        pytest.skip("no Redis on 6379 to stand for an explicit server")
    assert services.Services("0123abcd", 0).redis() == url
