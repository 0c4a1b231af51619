"""A fresh, migrated PostgreSQL database per test, cloned from a template built once.

Clones are made ahead of need on a background loop and dropped off the test's path. Every
database a run creates carries the run's id in its name, and the run holds a session-level
advisory lock on that id for as long as it lives: a later run drops leftovers only of runs whose
lock nobody holds, so several runs can share one server safely.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import itertools
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from pliers.testing.background import BackgroundLoop
from pliers.testing.template import Recipe

TEMPLATE_PREFIX = "pliers_template_"
TEST_PREFIX = "pliers_test_"
KEPT_PREFIX = "pliers_kept_"
#: ``application_name`` of a run's own connections, followed by the run id.
RUN_APPLICATION = "pliers-test-run-"
#: Chosen by measurement (benchmarks/bench_testdb.py, docs/testing.md): a WAL_LOG clone is
#: quicker to make but leaves its pages dirty, so every DROP DATABASE (which checkpoints) pays for
#: the clones made meanwhile; with FILE_COPY a run of 200 tests took 10.8 s instead of 18.9 s.
CLONE_STRATEGY = os.environ.get("PLIERS_TEST_CLONE_STRATEGY", "FILE_COPY").upper()

_TEMPLATE_BUILD_LOCK = 0x706C74706C  # one session builds a given template at a time
RUN_LOCK = 0x706C7472  # (class, run id): held shared by every process of a live run
_TEMPLATE_USE_LOCK = 0x706C7470  # (class, template digest): held shared while a run clones it
_TEST_NAME = re.compile(r"^pliers_test_(?P<run>[0-9a-f]{8})_[a-z0-9]+_\d+$")
_TEMPLATE_NAME = re.compile(r"^pliers_template_(?P<digest>[0-9a-f]{16})$")
#: Dropping waits while the pool refills, unless this many databases are waiting to go
#: (a bound on the disk they hold: about 8 MB each).
_DROP_BACKLOG = 16
#: Connections dropping at once: each DROP DATABASE waits for a checkpoint, and checkpoints
#: requested together are shared.
_DROPPERS = 2
#: Connections cloning at once, at most. Clones of one template may be made concurrently (no
#: session is connected to the template), and a FILE_COPY clone spends most of its time in
#: checkpoints that concurrent clones share: on PostgreSQL 15, 2 connections made 3.8 clones/s,
#: 4 made 10.3/s and 6 made 15.8/s (benchmarks/bench_testdb.py, a loaded 2-core machine).
CREATORS = 4
#: How long the end of a run waits for its sweep of killed runs' leftovers (seconds).
_SWEEP_GRACE = 10.0


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def template_name(recipe: Recipe | None = None) -> str:
    """Named after the recipe's digest, so a changed migration or hook gets a new template."""
    return TEMPLATE_PREFIX + (recipe or Recipe()).digest()[:16]


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def lock_key(hex_digits: str) -> int:
    """The first 32 bits of a hex id, as the signed int4 ``pg_advisory_lock`` takes."""
    key = int(hex_digits[:8], 16)
    return key - (1 << 32) if key >= 1 << 31 else key


async def ensure_template(admin_url: str, recipe: Recipe | None = None) -> str:
    """Build the template database once (safe when several sessions race); returns its name."""
    recipe = recipe or Recipe()
    name = template_name(recipe)
    admin = await asyncpg.connect(admin_url)
    try:
        exists = "SELECT datistemplate FROM pg_database WHERE datname = $1"
        if await admin.fetchval(exists, name):
            return name  # built already: no need to queue behind runs building other templates
        await admin.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_BUILD_LOCK)
        try:
            built = await admin.fetchval(exists, name)
            if built:
                return name
            if built is not None:  # a half-built template from an interrupted run
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            url = with_database(admin_url, name)
            conn = await asyncpg.connect(url)
            try:
                await recipe.build(conn, url)
            finally:
                await conn.close()
            await admin.execute(f'ALTER DATABASE "{name}" WITH is_template = true')
            return name
        finally:
            await admin.execute("SELECT pg_advisory_unlock($1)", _TEMPLATE_BUILD_LOCK)
    finally:
        await admin.close()


@dataclass
class TestDatabase:
    """A database that exists for one test."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    name: str
    url: str
    connection: asyncpg.Connection


async def create_test_database(admin: asyncpg.Connection, admin_url: str, template: str) -> str:
    """Clone ``template`` under a fresh name, on the caller's path (no pool, no run lock)."""
    name = f"{TEST_PREFIX}{worker_id()}_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY {CLONE_STRATEGY}')
    return name


async def drop_database(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def spawn_dropper(admin_url: str, run: str, worker: str) -> None:
    """Start :mod:`pliers.testing.dropper` detached: it outlives this process and keeps none of
    its signals. Named by string, so the dropper imports this module and not the reverse."""
    subprocess.run(  # noqa: S603 - our own interpreter and module, arguments we made
        [
            "/bin/sh",
            "-c",
            '"$@" </dev/null >/dev/null 2>&1 &',
            "sh",
            sys.executable,
            "-m",
            "pliers.testing.dropper",
            admin_url,
            run,
            worker,
        ],
        check=False,
        start_new_session=True,
    )


def kept_name(name: str) -> str:
    """What a kept database is renamed to: out of reach of the leftover cleanup."""
    return KEPT_PREFIX + name.removeprefix(TEST_PREFIX)


class DatabasePool:
    """Clones of this run's template, made ahead of need and dropped in the background.

    ``acquire`` and ``release`` are called from the test's thread; everything that talks to the
    server runs on a background loop with its own connections, each holding the run's lock:
    ``creators`` connections issue ``CREATE DATABASE`` concurrently, two more drop used
    databases while the pool is full (or when too many wait), and an admin connection builds
    the template and removes the leftovers of dead runs. Until :meth:`fill` is called (the run
    has a test wanting a database of its own) clones are made only for a waiting ``acquire``;
    after it, ``size`` are kept ready.
    """

    def __init__(
        self,
        admin_url: str,
        *,
        run: str,
        worker: str,
        size: int = 4,
        creators: int = CREATORS,
        recipe: Recipe | None = None,
    ) -> None:
        self.admin_url = admin_url
        self.recipe = recipe or Recipe()
        self.template = template_name(self.recipe)
        self.run = run
        self.worker = re.sub(r"[^a-z0-9]", "", worker.lower()) or "main"
        self.size = max(size, 1)
        self._creators = max(min(creators, self.size), 1)
        self._target = 0  # clones kept ready: none until fill()
        self._takers = 0  # acquire() calls waiting for a clone
        self._bg = BackgroundLoop(f"pliers-db-pool-{self.worker}")
        self._ready: collections.deque[str] = collections.deque()
        self._numbers = itertools.count(1)
        self._in_flight = 0
        self._closing = False
        self._error: BaseException | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._closed = False
        self._starting: concurrent.futures.Future[None] | None = None

    # -- called from the test's thread -------------------------------------------------------

    def start_soon(self) -> None:
        """Begin connecting and cloning in the background; :meth:`start` waits for it."""
        if self._starting is None:
            self._starting = self._bg.submit(self._start())

    def start(self) -> None:
        """Connect, take the run's locks, build the template; raises when the server fails us."""
        self.start_soon()
        assert self._starting is not None
        try:
            self._starting.result()
        except BaseException:
            self._bg.run(self._close_connections())
            self._bg.stop()
            self._closed = True
            raise
        self._started = True

    def fill(self) -> None:
        """Keep ``size`` clones ready from now on (the run has tests that will take them)."""
        if self._target != self.size:
            self._target = self.size
            if self._started or self._starting is not None:
                self._bg.call_soon(self._wake_creators)

    def acquire(self) -> str:
        """A fresh clone: one made in advance when there is one, else the next to finish."""
        try:
            name = self._ready.popleft()
        except IndexError:
            name = self._bg.run(self._take())
        self._bg.call_soon(self._wake_creators)
        return name

    def release(self, name: str) -> None:
        """Drop ``name`` in the background."""
        self._bg.call_soon(self._drops.put_nowait, name)

    def keep(self, name: str) -> str:
        """Rename ``name`` out of the cleanup's reach; returns the new name."""
        return self._bg.run(self._keep(name))

    def close(self) -> None:
        """Stop at once and leave this process's databases to a dropper that runs after it.

        Dropping a database waits for a checkpoint: done here, the last test's teardown would
        wait seconds for the ready clones to go. The dropper (:mod:`pliers.testing.dropper`)
        starts detached and drops them once the run's connections are gone.
        """
        if self._closed:
            return
        self._closed = True
        if self._starting is not None and not self._started:
            with contextlib.suppress(Exception):
                self._starting.result()  # started in the background, never waited for
            self._started = self._starting.exception() is None
        if self._started:
            self._bg.run(self._abandon())
            spawn_dropper(self.admin_url, self.run, self.worker)
        else:
            self._bg.run(self._close_connections())
        self._bg.stop()

    # -- on the background loop --------------------------------------------------------------

    async def _start(self) -> None:
        self._wanted = asyncio.Event()  # a creator may have work: a clone taken or wanted
        self._made = asyncio.Event()
        self._pool_full = asyncio.Event()
        self._drops: asyncio.Queue[str | None] = asyncio.Queue()
        self._admin_lock = asyncio.Lock()
        self._admin = await self._connect()
        self._creating: list[asyncpg.Connection] = []
        self._dropping: list[asyncpg.Connection] = []
        await self._admin.execute(
            "SELECT pg_advisory_lock_shared($1, $2)",
            _TEMPLATE_USE_LOCK,
            lock_key(self.template.removeprefix(TEMPLATE_PREFIX)),
        )
        await ensure_template(self.admin_url, self.recipe)
        for _ in range(self._creators):
            self._creating.append(await self._connect())
        for _ in range(_DROPPERS):
            self._dropping.append(await self._connect())
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._create_loop(c)) for c in self._creating]
        self._tasks += [loop.create_task(self._drop_loop(c)) for c in self._dropping]
        self._cleanup_task = loop.create_task(self._remove_leftovers())

    async def _connect(self) -> asyncpg.Connection:
        """A connection that keeps the run alive: a killed run's backends finishing a CREATE
        DATABASE still hold its lock, so no cleanup can miss what they create."""
        conn = await asyncpg.connect(
            self.admin_url, server_settings={"application_name": RUN_APPLICATION + self.run}
        )
        await conn.execute("SELECT pg_advisory_lock_shared($1, $2)", RUN_LOCK, lock_key(self.run))
        return conn

    async def _create_loop(self, conn: asyncpg.Connection) -> None:
        while not self._closing:
            if len(self._ready) + self._in_flight >= self._target + self._takers:
                self._pool_full.set()
                self._wanted.clear()
                await self._wanted.wait()
                continue
            self._pool_full.clear()
            name = f"{TEST_PREFIX}{self.run}_{self.worker}_{next(self._numbers)}"
            self._in_flight += 1
            try:
                await conn.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY {CLONE_STRATEGY}'
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                self._error = e
                self._made.set()
                await asyncio.sleep(0.5)
                continue
            finally:
                self._in_flight -= 1
            self._error = None
            self._ready.append(name)
            self._made.set()

    def _wake_creators(self) -> None:
        if hasattr(self, "_wanted"):  # else the creators have not started: they will look
            self._wanted.set()

    async def _take(self) -> str:
        self._takers += 1
        try:
            while True:
                with contextlib.suppress(IndexError):
                    return self._ready.popleft()
                if self._error is not None:
                    raise self._error
                self._made.clear()
                self._wanted.set()
                await self._made.wait()
        finally:
            self._takers -= 1

    async def _drop_loop(self, conn: asyncpg.Connection) -> None:
        while (name := await self._drops.get()) is not None:
            # cloning comes first: a drop forces a checkpoint that stalls the clones being made,
            # so drop while the pool is full, or when the backlog grows too long
            while not (  # noqa: ASYNC110 - three conditions, set from two threads: polled
                self._closing or self._pool_full.is_set() or self._drops.qsize() >= _DROP_BACKLOG
            ):
                await asyncio.sleep(0.05)
            with contextlib.suppress(asyncpg.PostgresError):
                await drop_database(conn, name)

    async def _keep(self, name: str) -> str:
        new = kept_name(name)
        async with self._admin_lock:
            for _ in range(50):
                await self._admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    name,
                )
                try:
                    await self._admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{new}"')
                    return new
                except asyncpg.ObjectInUseError:
                    await asyncio.sleep(0.05)
        raise RuntimeError(f"could not keep database {name}: it stays in use")

    async def _remove_leftovers(self) -> None:
        """Drop databases of runs that are gone, and templates no live run clones."""
        runs, templates = set(), set()
        for name in await self._names("pliers\\_%"):
            if (m := _TEST_NAME.match(name)) and m["run"] != self.run:
                runs.add(m["run"])
            elif _TEMPLATE_NAME.match(name) and name != self.template:
                templates.add(name)
        for run in sorted(runs):
            await self._drop_unlocked(RUN_LOCK, run, f"{TEST_PREFIX}{run}\\_%")
        for name in sorted(templates):
            await self._drop_unlocked(_TEMPLATE_USE_LOCK, name.removeprefix(TEMPLATE_PREFIX), name)

    async def _names(self, pattern: str) -> list[str]:
        rows = await self._admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname", pattern
        )
        return [r["datname"] for r in rows]

    async def _drop_unlocked(self, lock_class: int, owner: str, pattern: str) -> None:
        """Drop the databases matching ``pattern`` if nobody holds ``owner``'s lock."""
        async with self._admin_lock:
            key = lock_key(owner)
            if not await self._admin.fetchval(
                "SELECT pg_try_advisory_lock($1, $2)", lock_class, key
            ):
                return  # its run is alive
            try:
                # listed under the lock: no backend of a run whose lock is free can add more
                for name in await self._names(pattern):
                    with contextlib.suppress(asyncpg.PostgresError):
                        # a template must stop being one before it can go; an invalid database
                        # (its drop was interrupted) must not be altered: that ends the session
                        if await self._admin.fetchval(
                            "SELECT datistemplate AND datconnlimit <> -2 FROM pg_database"
                            " WHERE datname = $1",
                            name,
                        ):
                            await self._admin.execute(
                                f'ALTER DATABASE "{name}" WITH is_template = false'
                            )
                        await drop_database(self._admin, name)
            finally:
                await self._admin.execute("SELECT pg_advisory_unlock($1, $2)", lock_class, key)

    async def _abandon(self) -> None:
        """Cut every connection without waiting for what it was doing."""
        self._closing = True
        # The sweep of killed runs' leftovers started with the pool; a short run can end before
        # it has dropped them. Let it finish (quick unless there are leftovers), but not forever.
        if self._cleanup_task is not None and not self._cleanup_task.done():
            await asyncio.wait({self._cleanup_task}, timeout=_SWEEP_GRACE)
        for conn in [*self._creating, *self._dropping, self._admin]:
            # a CREATE DATABASE under way finishes on the server, and the dropper waits for it
            conn.terminate()
        tasks = [*self._tasks, self._cleanup_task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _close_connections(self) -> None:
        connections = [*getattr(self, "_creating", []), *getattr(self, "_dropping", [])]
        for conn in [*connections, getattr(self, "_admin", None)]:
            if conn is not None and not conn.is_closed():
                await conn.close()  # closing the admin session releases the run's locks
