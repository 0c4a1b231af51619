"""Dropping a finished process's databases after it has exited, off every test's path.

``python -m pliers.testing.dropper ADMIN_URL RUN WORKER`` waits until no connection of run
``RUN`` is left (the run's advisory lock comes free: backends still finishing a ``CREATE
DATABASE`` hold it too), then drops the databases that worker of the run made. Should it never
get there, the next run's cleanup drops them instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import asyncpg

from pliers.testing.postgres import RUN_LOCK, TEST_PREFIX, drop_database, lock_key

#: Give up waiting for the run to end after this long (the next run's cleanup takes over).
WAIT_SECONDS = 600
CONNECT_SECONDS = 10


async def drop_when_done(admin_url: str, run: str, worker: str) -> list[str]:
    conn = await asyncpg.connect(
        admin_url, timeout=CONNECT_SECONDS, server_settings={"application_name": "pliers-dropper"}
    )
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await conn.execute("SELECT pg_advisory_lock($1, $2)", RUN_LOCK, lock_key(run))
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1",
            f"{TEST_PREFIX}{run}\\_{worker}\\_%",
        )
        names = [r["datname"] for r in rows]
        for name in names:
            with contextlib.suppress(asyncpg.PostgresError):
                await drop_database(conn, name)
        return names
    finally:
        await conn.close()  # and with it the lock


if __name__ == "__main__":
    with contextlib.suppress(Exception):
        asyncio.run(drop_when_done(*sys.argv[1:4]))
