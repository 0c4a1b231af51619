"""A stand-in for the SendGrid v3 API on a real local socket, for tests of code that sends mail.

Point :class:`pliers.notifications.EmailService` (or ``PLIERS_SENDGRID_BASE_URL``) at
:attr:`MockEmailProvider.base_url`. Every request is recorded in :attr:`~MockEmailProvider.calls`;
:meth:`~MockEmailProvider.fail`, :meth:`~MockEmailProvider.rate_limit`,
:meth:`~MockEmailProvider.delay`, :meth:`~MockEmailProvider.down` and
:meth:`~MockEmailProvider.up` script how it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pliers.testing.sockets import listening_socket


@dataclass(frozen=True)
class ProviderCall:
    """One request the provider received."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    #: ``time.monotonic()`` when it arrived
    at: float


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class MockEmailProvider:
    """Plays SendGrid: ``POST /mail/send`` answers 202 with a message id unless told otherwise."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.calls: list[ProviderCall] = []
        self.message_id_in: Literal["header", "body"] = "header"
        self._script: deque[_Answer] = deque()
        self._always: _Answer | None = None
        self._delay = 0.0
        self._release = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.app = Starlette(
            routes=[
                Route("/mail/send", self._send, methods=["POST"]),
                Route("/templates/{template_id}", self._template, methods=["GET"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def sent(self) -> list[ProviderCall]:
        """The ``/mail/send`` calls."""
        return [c for c in self.calls if c.path == "/mail/send"]

    # -- scripting ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls and scripted answers: answer 202 again, at once."""
        self.calls.clear()
        self._script.clear()
        self._always = None
        self._delay = 0.0
        self.message_id_in = "header"
        self._release_waiting()

    def _release_waiting(self) -> None:
        """Let delayed requests answer now (reset, shutdown)."""
        self._release.set()
        self._release = asyncio.Event()

    def fail(
        self, status: int = 500, message: str = "Internal server error", *, times: int | None = None
    ) -> None:
        """Answer ``status`` with SendGrid's error body; every time, or the next ``times`` calls."""
        answer = _Answer(status, {"errors": [{"message": message, "field": None}]})
        if times is None:
            self._always = answer
        else:
            self._script.extend([answer] * times)

    def rate_limit(self, times: int = 1, retry_after: str | float | None = "1") -> None:
        """Answer the next ``times`` calls with 429 and ``Retry-After`` (seconds or HTTP date)."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = {"errors": [{"message": "Rate limit exceeded", "field": None}]}
        self._script.extend([_Answer(429, body, headers)] * times)

    def succeed(self, message_id: str | None = None, *, times: int = 1) -> None:
        """Answer the next ``times`` calls with 202 (and ``message_id`` when given)."""
        self._script.extend(
            [_Answer(202, {"message_id": message_id} if message_id else None)] * times
        )

    def delay(self, seconds: float) -> None:
        """Wait ``seconds`` before answering each call."""
        self._delay = seconds

    async def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        await self._stop()

    async def up(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            await self._start()

    # -- the app --------------------------------------------------------------------------------

    async def _record(self, request: Request) -> None:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        self.calls.append(
            ProviderCall(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                json=body,
                at=time.monotonic(),
            )
        )
        if self._delay:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._delay):
                    await self._release.wait()

    def _next(self) -> _Answer | None:
        if self._script:
            return self._script.popleft()
        return self._always

    async def _send(self, request: Request) -> Response:
        await self._record(request)
        answer = self._next()
        if answer is not None and answer.status >= 300:
            return JSONResponse(answer.body, answer.status, headers=answer.headers)
        given = answer.body.get("message_id") if answer is not None and answer.body else None
        message_id = given or f"mock-{uuid.uuid4().hex}"
        if self.message_id_in == "body":
            return JSONResponse({"message_id": message_id}, 202)
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    async def _template(self, request: Request) -> Response:
        await self._record(request)
        answer = self._next()
        if answer is not None and answer.status >= 300:
            return JSONResponse(answer.body, answer.status, headers=answer.headers)
        template_id = request.path_params["template_id"]
        return JSONResponse({"id": template_id, "name": "Test Template", "subject": "Test Subject"})

    # -- the server -----------------------------------------------------------------------------

    async def _start(self) -> None:
        sock = listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        self._server, self._task, self._sock = server, task, sock

    async def _stop(self) -> None:
        if self._server is None or self._task is None or self._sock is None:
            return
        self._server.should_exit = True
        self._release_waiting()
        await self._task
        self._sock.close()
        self._server = self._task = self._sock = None


@asynccontextmanager
async def email_provider_server(host: str = "127.0.0.1") -> AsyncIterator[MockEmailProvider]:
    """A running :class:`MockEmailProvider` on a free port, stopped on exit."""
    provider = MockEmailProvider(host)
    await provider._start()
    try:
        yield provider
    finally:
        await provider._stop()
