"""What every request leaves behind: its id, an access line, and its metrics.

One pure ASGI middleware, outermost of Pliers' own, so it is the same for every route however the
route is written (FastAPI routes, plain Starlette handlers, the WebSocket stream) and costs a few
microseconds: no request object is built and the body is never touched.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pliers import context, metrics

#: An ``X-Request-ID`` a client may choose: bounded, and safe to write into a log line or header.
REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
#: The route label of a request no route matched; one label, so scanners cannot add series.
UNMATCHED = "unmatched"

access_log = logging.getLogger("pliers.access")
#: Where the key check leaves the acting key's id in the request's scope: the access line is
#: written after the request's own context is gone, and names the key too.
ACTOR = "pliers.actor"


def request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is valid, otherwise a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if REQUEST_ID.fullmatch(value):
                return str(value, "ascii")
            break
    return os.urandom(16).hex()


def route_label(scope: Scope) -> str:
    """The matched route's path template (``/v1/forms/forms/{form_id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Observation:
    """One request, observed from its start: its id (set in :data:`pliers.context.current` and
    echoed in the answer), its status, and on :meth:`finish` its access line and metrics.

    :class:`RequestObserver` observes every request through one; the thin endpoints of
    :mod:`pliers.api.fast` use one directly, as the middleware would.
    """

    __slots__ = ("_kind", "_since", "_token", "header", "started", "status")

    def __init__(self, scope: Scope) -> None:
        rid = request_id(scope)
        self.header = (b"x-request-id", rid.encode("ascii"))
        #: what the client gets when the app raises before answering
        self.status = 500
        #: has the answer begun (its status and headers sent, or about to be)?
        self.started = False
        self._kind = scope["type"]
        self._token = context.current.set(context.RequestContext(request_id=rid))
        self._since = time.perf_counter()
        if self._kind == "http":
            metrics.HTTP_IN_FLIGHT.inc()

    def sending(self, send: Send) -> Send:
        """``send``, noting the status and adding the request id to the answer's headers."""

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start" or message["type"] == "websocket.accept":
                self.status = message.get("status", 101)
                self.started = True
                message["headers"] = [*message.get("headers", ()), self.header]
            elif message["type"] == "websocket.close" and self.status == 500:
                self.status = 403  # refused before it was accepted
            await send(message)

        return send_with_id

    def answering(self, response: Response) -> None:
        """``response`` is the answer: note its status and add the request id to its headers."""
        self.status = response.status_code
        self.started = True
        response.raw_headers.append(self.header)

    def finish(self, scope: Scope, *, access_log_on: bool) -> None:
        """The request is over: record it, write its access line, and leave its context."""
        elapsed = time.perf_counter() - self._since
        http = self._kind == "http"
        if http:
            metrics.HTTP_IN_FLIGHT.dec()
        route = route_label(scope)
        method = scope.get("method", "WS")
        status = self.status
        if http:  # a WebSocket's duration is its whole session, not a latency
            metrics.observe_request(method, route, status, elapsed)
        if access_log_on and access_log.isEnabledFor(logging.INFO):
            path = scope["path"]
            # made and handed over directly: Logger.info would walk the stack to find a caller
            # that the access line does not need, a third of the line's cost
            record = access_log.makeRecord(
                access_log.name,
                logging.INFO,
                __file__,
                0,
                "%s %s %d %.1fms",
                (method, path, status, elapsed * 1000),
                None,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "key_id": context.key_id(scope.get(ACTOR)),
                },
            )
            access_log.handle(record)
        context.current.reset(self._token)


class RequestObserver:
    """Gives each request an id (kept from the client when valid, echoed in the response), sets
    :data:`pliers.context.current` for it, and on completion logs one access line and records the
    request in :mod:`pliers.metrics` (an :class:`Observation`)."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        observation = Observation(scope)
        try:
            await self.app(scope, receive, observation.sending(send))
        finally:
            observation.finish(scope, access_log_on=self.access_log)
