"""Request limits applied before any route runs."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pliers.api.envelope import failure
from pliers.nesting import TooDeep, check_depth


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413, whether or not they declare their length, and
    bodies nesting deeper than ``max_depth`` with 400 (see :mod:`pliers.nesting`).

    The body is read up front (it is at most ``max_bytes``) and replayed to the application, so a
    route never sees a truncated body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check_depth(body, self.max_depth)
        except TooDeep as e:
            await _too_deep(e)(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = failure(
            413,
            "PAYLOAD_TOO_LARGE",
            f"request body is larger than the limit of {self.max_bytes} bytes",
        )
        response.headers["connection"] = "close"
        await response(scope, receive, send)


def _too_deep(error: TooDeep) -> Response:
    message = f"{error} (PLIERS_MAX_JSON_DEPTH)"
    return failure(
        400,
        "VALIDATION_ERROR",
        f"Request validation failed: the body {message}",
        [{"field": "body", "rule": "maxDepth", "message": message}],
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def client_address(scope: Scope) -> str:
    """The client's address as the server sees it.

    Behind a reverse proxy that is the proxy's, unless the server trusts it
    (``PLIERS_TRUSTED_PROXIES``): then uvicorn has already taken the client's address from
    ``X-Forwarded-For``. Nothing here reads that header itself, so a client cannot pick its own.
    """
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
