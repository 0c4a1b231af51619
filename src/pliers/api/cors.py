"""CORS for the public form routes, with each form's own ``allowedOrigins``.

Starlette's ``CORSMiddleware`` takes one list of origins for the whole app; here the list belongs
to the form the path names, so it is read from the form (through the form cache) per request. Only
requests that carry an ``Origin`` header are looked at: other clients are not browsers, and CORS
does not concern them.

- A preflight from an allowed origin gets ``Access-Control-Allow-Origin`` with that origin, the
  methods and the headers; from any other origin it gets a 403 without them.
- A request from an allowed origin gets ``Access-Control-Allow-Origin``, its errors included (so
  the page can show them); a POST from any other origin is refused (403) and stores nothing.
- A page on the server's own origin (the hosted form page) is always allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pliers.api.envelope import error
from pliers.errors import Forbidden, FormNotFound, PliersError
from pliers.forms.definition import ANY_ORIGIN, allowed_origins, is_public

PREFIX = "/v1/public/forms/"
METHODS = "GET, POST, OPTIONS"
HEADERS = "content-type, idempotency-key"
#: response headers a page's script may read
EXPOSED = "Retry-After, Idempotent-Replayed"
PREFLIGHT_MAX_AGE = "600"


class PublicFormCORS:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        origin = _header(scope["headers"], b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = await self._allowed(scope, origin)
        preflight = scope["method"] == "OPTIONS" and (
            _header(scope["headers"], b"access-control-request-method") is not None
        )
        if preflight:
            await self._preflight(scope, receive, send, origin, allowed)
            return
        if allowed is False and scope["method"] == "POST":
            response = error(Forbidden(f"pages on {origin} may not post to this form"))
            await response(scope, receive, send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", EXPOSED.encode()),
                    (b"vary", b"Origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _allowed(self, scope: Scope, origin: str) -> bool | None:
        """True or False for a public form; None when the form is private or unknown (the
        route then answers 404, whatever the origin)."""
        form_id = scope["path"][len(PREFIX) :].split("/", 1)[0]
        try:
            form = await scope["app"].state.runtime.forms.get(form_id)
        except PliersError:
            return None
        if not is_public(form.body):
            return None
        origins = allowed_origins(form.body)
        return ANY_ORIGIN in origins or origin in origins or _same_origin(scope, origin)

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: str, allowed: bool | None
    ) -> None:
        response: Response
        if allowed is None:
            response = error(FormNotFound("form not found"))
        elif not allowed:
            response = error(Forbidden(f"pages on {origin} may not use this form"))
        else:
            response = Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": METHODS,
                    "Access-Control-Allow-Headers": HEADERS,
                    "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                },
            )
        response.headers["Vary"] = "Origin"
        await response(scope, receive, send)


def _header(headers: Iterable[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _same_origin(scope: Scope, origin: str) -> bool:
    host = _header(scope["headers"], b"host")
    return host is not None and origin.split("://", 1)[-1] == host
