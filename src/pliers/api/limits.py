"""Request limits applied before any route runs."""

from __future__ import annotations

import asyncio

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pliers.api.envelope import error
from pliers.errors import PayloadTooLarge, RequestTimeout, ValidationError
from pliers.nesting import TooDeep, check_depth

#: How much of an oversized body is read and thrown away, in multiples of the limit, so that the
#: client (which may write its whole body before it reads) receives the 413 instead of a reset.
DRAIN_FACTOR = 8


#: where :class:`BodyLimits` leaves the body it read, for endpoints that take it whole (the thin
#: endpoints of :mod:`pliers.api.fast`) rather than through ``receive``
BODY = "pliers.body"


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` whole, then whatever ``receive`` gives next."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class Refused(Exception):
    """A body the limits refuse, with the answer to give."""

    def __init__(self, response: Response) -> None:
        self.response = response


class BodyLimits:
    """Read every request body up front, within limits, and replay it to the application.

    - larger than ``max_bytes`` (declared or not): 413;
    - not received whole within ``read_timeout`` seconds: 408, and the connection is closed, so a
      client that sends half a body holds a connection for that long at most;
    - JSON nesting deeper than ``max_depth``: 400 (see :mod:`pliers.nesting`).

    A route never sees a truncated body. A refused body is read to its end (up to
    ``DRAIN_FACTOR`` times the limit, within the same deadline) before the answer, so the
    connection stays usable; a body not read to its end is answered with ``Connection: close``.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_depth: int, read_timeout: float
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        try:
            body = await self.read(scope, receive)
        except Refused as refused:
            await refused.response(scope, receive, send)
            return
        if body is None:
            return  # the client left
        scope[BODY] = body
        await self.app(scope, replaying(body, receive), send)

    async def read(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, within the limits; None when the client left. Raises
        :class:`Refused` with the answer (413, 408, or 400 for nesting) when it is refused."""
        deadline = asyncio.get_running_loop().time() + self.read_timeout
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            if _header(scope, b"expect") == b"100-continue" or (
                int(declared) > self.max_bytes * DRAIN_FACTOR
            ):
                # Not sent yet (or too much to wait for): refuse unread, and close.
                raise Refused(self._too_large(closing=True))
            await self._drain(receive, deadline)
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        try:
            async with asyncio.timeout_at(deadline):
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    more = message.get("more_body", False)
                    size += len(chunk)
                    if size > self.max_bytes:
                        if not more:
                            raise Refused(self._too_large(closing=False))
                        await self._drain(receive, deadline, size)
                    chunks.append(chunk)
        except TimeoutError:
            raise Refused(self._too_slow()) from None
        body = b"".join(chunks)
        declared_type = _header(scope, b"content-type")
        if declared_type is None or b"json" in declared_type:  # what the routes parse as JSON
            try:
                check_depth(body, self.max_depth)
            except TooDeep as e:
                raise Refused(_too_deep(e)) from None
        return body

    async def _drain(self, receive: Receive, deadline: float, read: int = 0) -> None:
        """Read the rest of an oversized body and throw it away, then refuse it."""
        limit = self.max_bytes * DRAIN_FACTOR
        ended = await discard(receive, limit=limit, deadline=deadline, read=read)
        raise Refused(self._too_large(closing=not ended))

    def _too_large(self, *, closing: bool) -> Response:
        response = error(
            PayloadTooLarge(
                f"request body is larger than the limit of {self.max_bytes} bytes "
                "(PLIERS_MAX_BODY_BYTES)"
            )
        )
        if closing:
            response.headers["connection"] = "close"
        return response

    def _too_slow(self) -> Response:
        response = error(
            RequestTimeout(
                f"the request body was not received within {self.read_timeout:g} s "
                "(PLIERS_BODY_READ_TIMEOUT)"
            )
        )
        response.headers["connection"] = "close"
        return response


class AnswerAfterBody:
    """Read a request's body before any answer that came first, so the client reads the answer.

    A request refused before its body is read (401 for its key, 403 for its origin, a 503 or 500
    on the way) still has its body on the wire; a client that writes its whole request before it
    reads would see a reset when the server closes. So the body is read and thrown away before
    the answer starts, within the body limits (``DRAIN_FACTOR`` times ``max_bytes``, and
    ``read_timeout`` seconds from the request's start). A body that cannot be read so (too
    large, too slow, or one the client holds back until ``100 Continue``) is left unread and the
    answer says ``Connection: close``.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, read_timeout: float) -> None:
        self.app = app
        self.limit = max_bytes * DRAIN_FACTOR
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.read_timeout
        started = ended = False

        async def tracked() -> Message:
            nonlocal started, ended
            message = await receive()
            started = True
            ended = message["type"] == "http.disconnect" or not message.get("more_body", False)
            return message

        async def answer(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.start" and not ended:
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                if headers.get("connection", "").lower() != "close":
                    if started or _header(scope, b"expect") != b"100-continue":
                        ended = await self._discard(scope, receive, deadline)
                    if not ended:
                        headers["connection"] = "close"
                        message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, tracked, answer)

    async def _discard(self, scope: Scope, receive: Receive, deadline: float) -> bool:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return False
        return await discard(receive, limit=self.limit, deadline=deadline)


async def discard(receive: Receive, *, limit: int, deadline: float, read: int = 0) -> bool:
    """Read the rest of a request body and throw it away, up to ``limit`` bytes (``read`` of
    them already read) and until ``deadline``; True when it was read to its end or the client
    left."""
    more = True
    try:
        async with asyncio.timeout_at(deadline):
            while more and read <= limit:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return True
                read += len(message.get("body", b""))
                more = message.get("more_body", False)
    except TimeoutError:
        pass
    return not more


def _has_body(scope: Scope) -> bool:
    declared = _header(scope, b"content-length")
    return (declared is not None and declared != b"0") or (
        _header(scope, b"transfer-encoding") is not None
    )


def _too_deep(too_deep: TooDeep) -> Response:
    message = f"{too_deep} (PLIERS_MAX_JSON_DEPTH)"
    return error(
        ValidationError(
            f"Request validation failed: the body {message}",
            details=[{"field": "body", "rule": "maxDepth", "message": message}],
        )
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).strip().lower()
    return None


def client_address(scope: Scope) -> str:
    """The client's address as the server sees it.

    Behind a reverse proxy that is the proxy's, unless the server trusts it
    (``PLIERS_TRUSTED_PROXIES``): then uvicorn has already taken the client's address from
    ``X-Forwarded-For``. Nothing here reads that header itself, so a client cannot pick its own.
    """
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
