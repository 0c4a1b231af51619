"""A graceful stop: stream clients are told the server is going away (1001) before it stops.

uvicorn's stop on SIGTERM stops accepting, lets requests in flight finish (up to
``PLIERS_SHUTDOWN_TIMEOUT``), then runs the application's shutdown; it closes WebSockets itself with
1012 ("service restart"). A client of the live stream should instead hear 1001 ("going away") and
reconnect elsewhere with its last position, so the server process wraps uvicorn's signal handler:
the stream connections are closed with 1001 first, then uvicorn's stop goes on as it would.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType
from typing import Any

from pliers.api import stream

#: how long the closing frames to stream clients may take before the stop goes on regardless
GOODBYE_TIMEOUT = 2.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)

log = logging.getLogger(__name__)


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Close stream connections with 1001 on SIGTERM/SIGINT, then call the handler in place."""
    if threading.current_thread() is not threading.main_thread():
        return  # an embedded server (tests, a host application) handles its own signals
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            def start() -> None:
                task = loop.create_task(_going_away())
                task.add_done_callback(lambda _: previous(signum, frame))

            loop.call_soon_threadsafe(start)

        signal.signal(sig, handler)


async def _going_away() -> None:
    try:
        async with asyncio.timeout(GOODBYE_TIMEOUT):
            count = await stream.going_away()
        if count:
            log.info("closed %d stream connection(s) with 1001 (going away)", count)
    except TimeoutError:
        log.warning("stream clients did not take their closing frame in %.0fs", GOODBYE_TIMEOUT)
