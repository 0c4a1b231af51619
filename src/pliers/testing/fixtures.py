"""The plugin's fixtures and hooks (registered by :mod:`pliers.testing.plugin`).

Registered on every run, used or not: the drivers, the app and the servers are imported by the
fixtures that need them, and the servers are found when the first test asks, so a run that uses
none of these fixtures pays for none of them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    import asyncpg
    import httpx
    from fastapi import FastAPI

    from pliers.runtime import Runtime
    from pliers.settings import Settings
    from pliers.testing.apps import LiveServer
    from pliers.testing.email import MockEmailProvider
    from pliers.testing.factories import EventFactory, FormBuilder
    from pliers.testing.live import SharedServer
    from pliers.testing.postgres import DatabasePool, TestDatabase
    from pliers.testing.redis import RunPresence, TestCache
    from pliers.testing.services import Services, UnavailableError

KEPT_SECTION = "pliers: database kept"
_RUN = pytest.StashKey[str]()
_OWNER = pytest.StashKey[int]()
_SERVICES: pytest.StashKey[Services] = pytest.StashKey()
_PRESENCE: pytest.StashKey[RunPresence] = pytest.StashKey()
_POOL: pytest.StashKey[DatabasePool | UnavailableError] = pytest.StashKey()
_SERVER: pytest.StashKey[SharedServer] = pytest.StashKey()
_FAILED = pytest.StashKey[bool]()
_FILLING = pytest.StashKey[bool]()
_DATABASE = pytest.StashKey[tuple[str, str]]()
_SETTINGS: pytest.StashKey[Settings] = pytest.StashKey()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", None)
    config.stash[_RUN] = worker["pliers_run"] if worker else os.urandom(4).hex()
    config.stash[_OWNER] = worker["pliers_owner"] if worker else os.getpid()


def _services(config: pytest.Config) -> Services:
    """The run's servers, looked for the first time a test needs one."""
    if _SERVICES not in config.stash:
        from pliers.testing.services import Services

        config.stash[_SERVICES] = Services(config.stash[_RUN], config.stash[_OWNER])
    return config.stash[_SERVICES]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist: every worker of the run shares its id and owner."""
    config = node.config  # type: ignore[attr-defined]
    node.workerinput["pliers_run"] = config.stash[_RUN]  # type: ignore[attr-defined]
    node.workerinput["pliers_owner"] = config.stash[_OWNER]  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None and not isinstance(pool, Exception):
        pool.close()  # when no test asked for it after all
    if (presence := config.stash.get(_PRESENCE, None)) is not None:
        presence.close()
    if (server := config.stash.get(_SERVER, None)) is not None:
        server.close()
    if not _is_worker(config) and (
        _SERVICES in config.stash or config.pluginmanager.has_plugin("dsession")
    ):
        # xdist's workers may have started throwaway servers this process never looked for
        from pliers.testing.services import stop_started

        stop_started(config.stash[_RUN])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield  # type: ignore[assignment]
    if report.failed and report.when in ("setup", "call"):
        item.stash[_FAILED] = True
        database = item.stash.get(_DATABASE, None)
        if database is not None and item.config.getoption("pliers_keep_db"):
            from pliers.testing.postgres import kept_name, with_database

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


def pytest_itemcollected(item: pytest.Item) -> None:
    """Start cloning as soon as the first test wanting a database is collected (for
    ``pliers_transaction`` alone: start the pool, which clones only the one it needs)."""
    fixtures = getattr(item, "fixturenames", ())
    if "pliers_transaction" in fixtures and _POOL not in item.config.stash:
        _start_pool(item.config)
    if "pliers_db_url" in fixtures and not item.config.stash.get(_FILLING, False):
        item.config.stash[_FILLING] = True
        _start_pool(item.config)
        if not isinstance(pool := item.config.stash[_POOL], Exception):
            pool.fill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test using ``pliers_transaction`` runs in the session's loop, where its connection is."""
    for item in items:
        if "pliers_transaction" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


def _start_pool(config: pytest.Config) -> None:
    """Find the run's PostgreSQL server and start this process's pool there, in the background."""
    if _POOL in config.stash:
        return
    from pliers.testing.postgres import DatabasePool
    from pliers.testing.services import UnavailableError
    from pliers.testing.template import Recipe

    try:
        admin_url = _services(config).postgres()
    except UnavailableError as e:
        config.stash[_POOL] = e
        return
    worker = config.workerinput["workerid"] if _is_worker(config) else "main"  # type: ignore[attr-defined]
    pool = DatabasePool(
        admin_url,
        run=config.stash[_RUN],
        worker=worker,
        size=config.getoption("pliers_db_pool"),
        recipe=Recipe.from_config(config),
    )
    pool.start_soon()
    config.stash[_POOL] = pool


def _database_pool(config: pytest.Config) -> DatabasePool:
    from pliers.testing import services

    _start_pool(config)
    found = config.stash[_POOL]
    if isinstance(found, services.UnavailableError):
        services.unavailable("PostgreSQL", str(found), services.POSTGRES_HOW)
    return found


@pytest.fixture(scope="session")
def pliers_postgres(request: pytest.FixtureRequest) -> Iterator[DatabasePool]:
    """This process's pool of clones of the template, on the run's PostgreSQL server."""
    import asyncpg

    from pliers.testing import services

    pool = _database_pool(request.config)
    try:
        pool.start()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        services.unavailable("PostgreSQL", f"{pool.admin_url}: {e}", services.POSTGRES_HOW)
    yield pool
    pool.close()


@pytest.fixture
def pliers_db_url(request: pytest.FixtureRequest, pliers_postgres: DatabasePool) -> Iterator[str]:
    """The URL of a fresh database cloned from the template for this test, dropped afterwards."""
    from pliers.testing.postgres import with_database

    pliers_postgres.fill()  # for a test that asked with getfixturevalue, unseen at collection
    name = pliers_postgres.acquire()
    request.node.stash[_DATABASE] = (pliers_postgres.admin_url, name)
    yield with_database(pliers_postgres.admin_url, name)
    if request.config.getoption("pliers_keep_db") and request.node.stash.get(_FAILED, False):
        pliers_postgres.keep(name)
    else:
        pliers_postgres.release(name)


@pytest.fixture
async def pliers_db(pliers_db_url: str) -> AsyncIterator[TestDatabase]:
    """A fresh database cloned from the template for this test, with a connection to it."""
    from urllib.parse import urlsplit

    import asyncpg

    from pliers.testing.postgres import TestDatabase

    conn = await asyncpg.connect(pliers_db_url)
    try:
        name = urlsplit(pliers_db_url).path.lstrip("/")
        yield TestDatabase(name=name, url=pliers_db_url, connection=conn)
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _pliers_transaction_connection(
    pliers_postgres: DatabasePool,
) -> AsyncIterator[asyncpg.Connection]:
    """One database and connection per process for every ``pliers_transaction`` test, inside a
    transaction that each test's end rolls back and begins again."""
    import asyncpg

    from pliers.testing.postgres import with_database

    name = pliers_postgres.acquire()
    conn = await asyncpg.connect(with_database(pliers_postgres.admin_url, name))
    try:
        # asyncpg knows it is in this transaction, so a test's own conn.transaction() is a
        # savepoint inside it
        await conn.transaction().start()
        yield conn
    finally:
        await conn.close()
        pliers_postgres.release(name)


@pytest_asyncio.fixture(loop_scope="session")
async def pliers_transaction(
    _pliers_transaction_connection: asyncpg.Connection,
) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is rolled back after the test, as Django's
    ``TestCase`` does: no clone per test, for tests that need no commit. The test runs in the
    session's event loop (the plugin marks it so), since the connection lives there."""
    yield _pliers_transaction_connection
    # what the test wrote goes, and the next test's transaction begins, in one round trip
    await _pliers_transaction_connection.execute("ROLLBACK; BEGIN")


@pytest.fixture
def pliers_admin_key() -> str:
    """The admin key of this test's app (authentication is on, as in production)."""
    import secrets

    return secrets.token_urlsafe(32)


@pytest.fixture
async def pliers_runtime(
    request: pytest.FixtureRequest,
    pliers_postgres: DatabasePool,
    pliers_db_url: str,
    pliers_cache: TestCache,
    pliers_admin_key: str,
) -> AsyncIterator[Runtime]:
    """A started runtime on this test's database and Redis database (cache and fan-out), with
    ``pliers_admin_key`` as its admin key."""
    from pydantic import SecretStr

    from pliers.testing.apps import runtime_settings, started_runtime

    if _SETTINGS not in request.config.stash:
        # validated once: the settings of one test's runtime differ from the next one's only
        # in what names the test's own database, Redis database and key
        request.config.stash[_SETTINGS] = runtime_settings(
            "postgresql://", migrate_on_start=not pliers_postgres.recipe.pliers_schema
        )
    settings = request.config.stash[_SETTINGS].model_copy(
        update={
            "database_url": pliers_db_url,
            "redis_url": pliers_cache.url,
            "admin_key": SecretStr(pliers_admin_key),
        }
    )
    async with started_runtime(settings) as runtime:
        yield runtime


@pytest.fixture
def pliers_app(pliers_runtime: Runtime) -> FastAPI:
    """The Pliers application bound to this test's database and Redis database."""
    from pliers.api.app import create_app

    return create_app(runtime=pliers_runtime)


@pytest.fixture
async def pliers_client(
    pliers_app: FastAPI, pliers_admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls the app in-process (no socket), with the admin key."""
    from pliers.testing.apps import client_for

    async with client_for(pliers_app) as client:
        client.headers["Authorization"] = f"Bearer {pliers_admin_key}"
        yield client


@pytest.fixture
async def pliers_server(
    request: pytest.FixtureRequest, pliers_app: FastAPI
) -> AsyncIterator[LiveServer]:
    """The app on a real socket: ``base_url`` for HTTP, ``ws_url`` for WebSocket.

    One server per process, started for the first test that asks, serves each test's own app.
    """
    if _SERVER not in request.config.stash:
        from pliers.testing.live import SharedServer

        request.config.stash[_SERVER] = SharedServer()
    with request.config.stash[_SERVER].serving(pliers_app) as live:
        yield live


def _redis_server(config: pytest.Config) -> str:
    """The run's Redis server; first time: announce this run and free stale claims."""
    import redis

    from pliers.testing import services
    from pliers.testing.redis import RunPresence

    try:
        url = _services(config).redis()
    except services.UnavailableError as e:
        services.unavailable("Redis", str(e), services.REDIS_HOW)
    if _PRESENCE not in config.stash:
        try:
            presence = RunPresence(url, config.stash[_RUN])
        except (OSError, redis.RedisError) as e:
            services.unavailable("Redis", f"{url}: {e}", services.REDIS_HOW)
        config.stash[_PRESENCE] = presence
        presence.remove_stale_claims()
    return url


@pytest.fixture
async def pliers_cache(request: pytest.FixtureRequest) -> AsyncIterator[TestCache]:
    """A ``redis.asyncio.Redis`` on a database nobody else is using, flushed before and after."""
    import redis

    from pliers.testing import services
    from pliers.testing.redis import TestCache, with_index

    server_url = _redis_server(request.config)
    try:
        index = request.config.stash[_PRESENCE].database()
    except (OSError, redis.RedisError) as e:
        services.unavailable("Redis", f"{server_url}: {e}", services.REDIS_HOW)
    cache = TestCache(with_index(server_url, index), index)
    try:
        await cache.flushdb()
        yield cache
    finally:
        await cache.flushdb()
        await cache.aclose()


@pytest.fixture
def event_factory() -> EventFactory:
    """Builds events in the wire form clients send."""
    from pliers.testing.factories import EventFactory

    return EventFactory()


@pytest.fixture
def form_builder() -> FormBuilder:
    """A fresh :class:`FormBuilder` for the body of ``POST /v1/forms/forms``."""
    from pliers.testing.factories import FormBuilder

    return FormBuilder()


@pytest.fixture
async def email_provider() -> AsyncIterator[MockEmailProvider]:
    """A mock of the SendGrid v3 API on a free local port: ``base_url``, ``calls``, controls."""
    from pliers.testing.email import email_provider_server

    async with email_provider_server() as provider:
        yield provider
