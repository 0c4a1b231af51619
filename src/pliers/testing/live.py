"""One live server for the whole run, on a thread of its own; each test plugs its app into it.

Starting and stopping uvicorn costs a test about 200 ms (its shutdown waits on fixed 100 ms
ticks), so ``pliers_server`` starts one server per process and, per test, only points it at the
test's app. The app keeps running in the test's event loop, where its database pool and Redis
client live: each connection's ASGI call is handed to that loop, and its messages back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pliers.testing.apps import LiveServer
from pliers.testing.background import BackgroundLoop
from pliers.testing.sockets import listening_socket

#: How long the server may take to start listening before the test fails.
START_SECONDS = 30.0


class SharedServer:
    """A uvicorn server on a background loop serving whichever app the current test gives it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._target: tuple[ASGIApp, asyncio.AbstractEventLoop] | None = None
        self._calls: set[concurrent.futures.Future[None]] = set()
        self._bg = BackgroundLoop("pliers-live-server")
        self._socket = listening_socket(host)
        self.live = LiveServer(host, self._socket.getsockname()[1])
        config = uvicorn.Config(
            self._dispatch,
            interface="asgi3",
            log_level="warning",
            lifespan="off",
            ws_ping_interval=None,
        )
        self._server = uvicorn.Server(config)
        self._serving = self._bg.submit(self._server.serve(sockets=[self._socket]))
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # it failed to start: say why
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start within {START_SECONDS} s")
            time.sleep(0.002)

    @contextlib.contextmanager
    def serving(self, app: ASGIApp) -> Iterator[LiveServer]:
        """Serve ``app`` in the running event loop until the block ends."""
        self._target = (app, asyncio.get_running_loop())
        try:
            yield self.live
        finally:
            self._target = None
            for call in list(self._calls):  # connections the test left open
                call.cancel()

    def close(self) -> None:
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            self._serving.result(timeout=5)
        self._bg.stop()
        self._socket.close()

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self._target
        if target is None:
            await _refuse(scope, send)
            return
        app, loop = target
        here = asyncio.get_running_loop()

        async def receive_here() -> Message:
            return await receive()

        async def send_here(message: Message) -> None:
            await send(message)

        async def receive_there() -> Message:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(receive_here(), here))

        async def send_there(message: Message) -> None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(send_here(message), here))

        async def call_app() -> None:
            await app(scope, receive_there, send_there)

        call = asyncio.run_coroutine_threadsafe(call_app(), loop)
        self._calls.add(call)
        try:
            await asyncio.wrap_future(call)
        except asyncio.CancelledError:
            call.cancel()
            raise
        finally:
            self._calls.discard(call)


async def _refuse(scope: Scope, send: Send) -> None:
    """Between tests there is no app: a request gets 503, a WebSocket is closed."""
    if scope["type"] == "http":
        body = b"no test is running"
        headers: list[Any] = [(b"content-type", b"text/plain"), (b"content-length", b"18")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013})
