"""Listening for PostgreSQL notifications on a connection of its own, for as long as it is wanted.

A pooled connection would carry the ``LISTEN`` to whoever acquires it next, so each listener
opens its own. Every call on it is bounded by the store's timeout (``PLIERS_DB_TIMEOUT``):
connecting, the ``LISTEN``, closing, and a ``SELECT 1`` every :data:`HEARTBEAT` seconds, which
finds a server that stopped answering (a hung PostgreSQL keeps the connection open and silent).
A lost or failed connection is opened again after a growing, jittered pause (stamina); a
connection that was listening starts the schedule over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from pliers import backoff

log = logging.getLogger(__name__)

#: Longest pause between two attempts to listen again (seconds).
MAX_BACKOFF = 30.0
#: Seconds between two checks that the listening connection's server still answers.
HEARTBEAT = 30.0


async def listen_forever(
    url: str,
    channel: str,
    *,
    notice: Callable[[], None],
    listening: Callable[[], None],
    lost: Callable[[], None] = lambda: None,
    call_timeout: float,
    what: str,
    heartbeat: float = HEARTBEAT,
) -> None:
    """Call ``notice`` for each notification on ``channel``, until cancelled.

    ``listening`` is called each time the ``LISTEN`` holds (notifications sent before were not
    heard: the caller catches up), ``lost`` each time it stopped holding or failed to. Each
    call on the connection lasts ``call_timeout`` seconds at most. ``what`` names the
    notifications in the log.
    """
    while True:
        retries = backoff.forever(
            Exception, wait_initial=1.0, wait_max=MAX_BACKOFF, wait_jitter=0.5
        )
        async for attempt in retries:
            with attempt:
                try:
                    await _listen(url, channel, notice, listening, call_timeout, heartbeat)
                except Exception as e:
                    log.warning(
                        "cannot listen for %s (%s); trying again in %.0f s",
                        what,
                        str(e) or type(e).__name__,
                        attempt.next_wait,
                    )
                    raise
                finally:
                    lost()
        log.warning("lost the connection listening for %s; listening again", what)


async def _listen(
    url: str,
    channel: str,
    notice: Callable[[], None],
    listening: Callable[[], None],
    call_timeout: float,
    heartbeat: float,
) -> None:
    """LISTEN on a new connection, calling ``notice`` on each notification; returns once the
    connection is lost or its server stops answering."""
    conn = await asyncpg.connect(url, timeout=call_timeout)
    try:
        gone = asyncio.Event()
        conn.add_termination_listener(lambda _conn: gone.set())
        async with asyncio.timeout(call_timeout):
            await conn.add_listener(channel, lambda *_notification: notice())
        listening()
        while not gone.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(heartbeat):
                    await gone.wait()
            if not gone.is_set():
                try:
                    await conn.fetchval("SELECT 1", timeout=call_timeout)
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
                    return
    finally:
        try:
            await asyncio.shield(conn.close(timeout=call_timeout))
        except Exception:
            conn.terminate()
