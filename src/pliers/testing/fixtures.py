"""The plugin's fixtures and hooks (registered by :mod:`pliers.testing.plugin`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from pliers.runtime import Runtime
from pliers.testing import redis as redis_db
from pliers.testing import services
from pliers.testing.apps import LiveServer, client_for, running_runtime, serve
from pliers.testing.email import MockEmailProvider, email_provider_server
from pliers.testing.factories import EventFactory, FormBuilder
from pliers.testing.postgres import DatabasePool, TestDatabase, kept_name, with_database

KEPT_SECTION = "pliers: database kept"
_RUN = pytest.StashKey[str]()
_OWNER = pytest.StashKey[int]()
_SERVICES = pytest.StashKey[services.Services]()
_PRESENCE = pytest.StashKey[redis_db.RunPresence]()
_POOL = pytest.StashKey["DatabasePool | services.UnavailableError"]()
_FAILED = pytest.StashKey[bool]()
_DATABASE = pytest.StashKey[tuple[str, str]]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", None)
    config.stash[_RUN] = worker["pliers_run"] if worker else secrets.token_hex(4)
    config.stash[_OWNER] = worker["pliers_owner"] if worker else os.getpid()
    config.stash[_SERVICES] = services.Services(config.stash[_RUN], config.stash[_OWNER])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist: every worker of the run shares its id and owner."""
    config = node.config  # type: ignore[attr-defined]
    node.workerinput["pliers_run"] = config.stash[_RUN]  # type: ignore[attr-defined]
    node.workerinput["pliers_owner"] = config.stash[_OWNER]  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    if isinstance(pool := config.stash.get(_POOL, None), DatabasePool):
        pool.close()  # when no test asked for it after all
    if (presence := config.stash.get(_PRESENCE, None)) is not None:
        presence.close()
    if not _is_worker(config) and _SERVICES in config.stash:
        config.stash[_SERVICES].stop_started()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield  # type: ignore[assignment]
    if report.failed and report.when in ("setup", "call"):
        item.stash[_FAILED] = True
        database = item.stash.get(_DATABASE, None)
        if database is not None and item.config.getoption("pliers_keep_db"):
            admin_url, name = database
            url = with_database(admin_url, kept_name(name))
            report.sections.append((KEPT_SECTION, url))
    return report  # type: ignore[return-value]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    kept = [
        f"{report.nodeid}: {content}"
        for report in terminalreporter.stats.get("failed", [])
        for title, content in getattr(report, "sections", [])
        if title == KEPT_SECTION
    ]
    if kept:
        terminalreporter.section("pliers: databases kept for inspection")
        for line in kept:
            terminalreporter.write_line(line)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start cloning while the first tests run, when some test will want a database."""
    if any("pliers_db_url" in getattr(item, "fixturenames", ()) for item in session.items):
        _start_pool(session.config)


def _start_pool(config: pytest.Config) -> None:
    """Find the run's PostgreSQL server and start this process's pool there, in the background."""
    if _POOL not in config.stash:
        try:
            admin_url = config.stash[_SERVICES].postgres()
        except services.UnavailableError as e:
            config.stash[_POOL] = e
        else:
            worker = config.workerinput["workerid"] if _is_worker(config) else "main"  # type: ignore[attr-defined]
            pool = DatabasePool(
                admin_url,
                run=config.stash[_RUN],
                worker=worker,
                size=config.getoption("pliers_db_pool"),
            )
            pool.start_soon()
            config.stash[_POOL] = pool


def _database_pool(config: pytest.Config) -> DatabasePool:
    _start_pool(config)
    found = config.stash[_POOL]
    if isinstance(found, services.UnavailableError):
        services.unavailable("PostgreSQL", str(found), services.POSTGRES_HOW)
    return found


@pytest.fixture(scope="session")
def pliers_postgres(request: pytest.FixtureRequest) -> Iterator[DatabasePool]:
    """This process's pool of clones of the migrated template, on the run's PostgreSQL server."""
    pool = _database_pool(request.config)
    try:
        pool.start()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        services.unavailable("PostgreSQL", f"{pool.admin_url}: {e}", services.POSTGRES_HOW)
    yield pool
    pool.close()


@pytest.fixture
def pliers_db_url(request: pytest.FixtureRequest, pliers_postgres: DatabasePool) -> Iterator[str]:
    """The URL of a fresh, migrated database for this test, dropped afterwards."""
    name = pliers_postgres.acquire()
    request.node.stash[_DATABASE] = (pliers_postgres.admin_url, name)
    yield with_database(pliers_postgres.admin_url, name)
    if request.config.getoption("pliers_keep_db") and request.node.stash.get(_FAILED, False):
        pliers_postgres.keep(name)
    else:
        pliers_postgres.release(name)


@pytest.fixture
async def pliers_db(pliers_db_url: str) -> AsyncIterator[TestDatabase]:
    """A fresh, migrated PostgreSQL database for this test, with a connection to it."""
    conn = await asyncpg.connect(pliers_db_url)
    try:
        name = urlsplit(pliers_db_url).path.lstrip("/")
        yield TestDatabase(name=name, url=pliers_db_url, connection=conn)
    finally:
        await conn.close()


@pytest.fixture
async def pliers_runtime(
    pliers_db_url: str, pliers_cache: redis_db.TestCache
) -> AsyncIterator[Runtime]:
    """A started runtime on this test's database and Redis database (cache and fan-out)."""
    async with running_runtime(pliers_db_url, redis_url=pliers_cache.url) as runtime:
        yield runtime


@pytest.fixture
def pliers_app(pliers_runtime: Runtime) -> FastAPI:
    """The Pliers application bound to this test's database and Redis database."""
    from pliers.api.app import create_app

    return create_app(runtime=pliers_runtime)


@pytest.fixture
async def pliers_client(pliers_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls the app in-process (no socket)."""
    async with client_for(pliers_app) as client:
        yield client


@pytest.fixture
async def pliers_server(pliers_app: FastAPI) -> AsyncIterator[LiveServer]:
    """The app on a real socket: ``base_url`` for HTTP, ``ws_url`` for WebSocket."""
    async with serve(pliers_app) as live:
        yield live


def _redis_server(config: pytest.Config) -> str:
    """The run's Redis server; first time: announce this run and free stale claims."""
    try:
        url = config.stash[_SERVICES].redis()
    except services.UnavailableError as e:
        services.unavailable("Redis", str(e), services.REDIS_HOW)
    if _PRESENCE not in config.stash:
        try:
            presence = redis_db.RunPresence(url, config.stash[_RUN])
        except (OSError, aioredis.RedisError) as e:
            services.unavailable("Redis", f"{url}: {e}", services.REDIS_HOW)
        config.stash[_PRESENCE] = presence
        presence.remove_stale_claims()
    return url


@pytest.fixture
async def pliers_cache(request: pytest.FixtureRequest) -> AsyncIterator[redis_db.TestCache]:
    """A Redis database nobody else is using, flushed before and after the test."""
    server_url = _redis_server(request.config)
    try:
        index, token = await redis_db.claim_database(server_url, request.config.stash[_RUN])
    except (OSError, aioredis.RedisError) as e:
        services.unavailable("Redis", f"{server_url}: {e}", services.REDIS_HOW)
    url = redis_db.with_index(server_url, index)
    client = aioredis.Redis.from_url(url)
    try:
        await client.flushdb()
        yield redis_db.TestCache(url=url, index=index, client=client)
    finally:
        await client.flushdb()
        await client.aclose()
        await redis_db.release_database(server_url, index, token)


@pytest.fixture
def event_factory() -> EventFactory:
    """Builds events in the wire form clients send."""
    return EventFactory()


@pytest.fixture
def form_builder() -> FormBuilder:
    """A fresh :class:`FormBuilder` for the body of ``POST /v1/forms/forms``."""
    return FormBuilder()


@pytest.fixture
async def email_provider() -> AsyncIterator[MockEmailProvider]:
    """A mock of the SendGrid v3 API on a free local port: ``base_url``, ``calls``, controls."""
    async with email_provider_server() as provider:
        yield provider
