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


class RequestObserver:
    """Gives each request an id (kept from the client when valid, echoed in the response), sets
    :data:`pliers.context.current` for it, and on completion logs one access line and records the
    request in :mod:`pliers.metrics`."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        header = (b"x-request-id", rid.encode("ascii"))
        token = context.current.set(context.RequestContext(request_id=rid))
        status = 500  # what the client gets when the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start" or message["type"] == "websocket.accept":
                status = message.get("status", 101)
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "websocket.close" and status == 500:
                status = 403  # refused before it was accepted
            await send(message)

        if kind == "http":
            metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if kind == "http":
                metrics.HTTP_IN_FLIGHT.dec()
            route = route_label(scope)
            method = scope.get("method", "WS")
            if kind == "http":  # a WebSocket's duration is its whole session, not a latency
                metrics.observe_request(method, route, status, elapsed)
            if self.access_log and access_log.isEnabledFor(logging.INFO):
                path = scope["path"]
                # made and handed over directly: Logger.info would walk the stack to find a
                # caller that the access line does not need, a third of the line's cost
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
            context.current.reset(token)
