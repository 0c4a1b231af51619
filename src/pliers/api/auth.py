"""Authentication (one ASGI middleware) and authorization (one line per route).

:class:`Authentication` resolves the request's key to a :class:`~pliers.keys.Principal` once, before
any route runs, and sets it for the request, with the actor in :data:`pliers.context.current`.
It is a plain ASGI callable, not Starlette's ``BaseHTTPMiddleware``: that one runs the app in
another task (context variables set here would not reach the route) and costs far more per request.

:func:`requires` declares the scope a route needs; it works on FastAPI routes, plain Starlette
endpoints and WebSocket endpoints alike, and costs a context-variable read and a set lookup.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from fastapi.routing import RouteContext, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from pliers.api.envelope import failure
from pliers.api.observe import ACTOR
from pliers.context import RequestContext, current
from pliers.errors import Forbidden, PliersError, Unauthorized
from pliers.keys.model import PUBLIC, Principal
from pliers.keys.scopes import Scope as KeyScope

#: Paths served without a key, whatever the settings: the health check, the public form routes
#: and the hosted form page (with its static files), and the API's own documentation (it
#: describes the API; it holds no data).
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/openapi.json",
        "/asyncapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/static",
    }
)
PUBLIC_PREFIXES = ("/v1/public/", "/docs/", "/f/", "/static/")
#: Pages that check the key themselves (the console: its session cookie holds the key; see
#: pliers.web.access, which acts as the key's principal through :func:`act_as`).
SELF_CHECKED_PREFIXES = ("/console",)
#: The query parameter that carries a key where a browser cannot send a header (the stream).
KEY_PARAM = "key"

principal: ContextVar[Principal | None] = ContextVar("pliers_principal", default=None)

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])


def is_public(path: str) -> bool:
    return (
        path in PUBLIC_PATHS
        or path.startswith(PUBLIC_PREFIXES)
        or path.startswith(SELF_CHECKED_PREFIXES)
    )


def act_as(who: Principal) -> None:
    """For the rest of this request, act as ``who`` (for pages that check a key themselves).

    The middleware restores what it set when the request ends.
    """
    current.set(_context_of(who))
    principal.set(who)


def _context_of(who: Principal) -> RequestContext:
    """The request's context with ``who`` as its actor."""
    before = current.get()
    return RequestContext(before.request_id if before else None, actor=who.actor)


class Authentication:
    """Resolve the key of every HTTP request and WebSocket upgrade; refuse those without one.

    With authentication off every request acts as ``local``; on public paths every request acts
    as ``public``, key or not. Elsewhere a missing, unknown, revoked or expired key is a 401 (an
    upgrade is refused with one), before the body is checked or parsed (it is read and thrown
    away before the answer goes out: :class:`pliers.api.limits.AnswerAfterBody`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        from_query = _take_key_param(scope)  # out of the scope before anything can log it
        path: str = scope["path"]
        found: Principal | None
        if is_public(path) or _is_preflight(scope):
            found = PUBLIC
        else:
            secret = _bearer(scope)
            if secret is None and kind == "websocket":
                secret = from_query
            try:
                found = await scope["app"].state.runtime.keys.resolve(secret)
            except PliersError as e:  # the database is down: the envelope, as routes give it
                await _answer(scope, receive, send, failure(e.status_code, e.code, e.message))
                return
            if found is None:
                await _refuse(scope, receive, send, secret is None)
                return
        acting = Acting(scope, found)
        try:
            await self.app(scope, receive, send)
        finally:
            acting.leave()


class Acting:
    """For the rest of a request, act as ``found``: the principal that :func:`requires` checks,
    the actor in :data:`pliers.context.current` and in the scope (for the access line), until
    :meth:`leave`."""

    __slots__ = ("_context", "_who")

    def __init__(self, scope: Scope, found: Principal) -> None:
        self._context = current.set(_context_of(found))
        self._who = principal.set(found)
        scope[ACTOR] = found.actor

    def leave(self) -> None:
        principal.reset(self._who)
        current.reset(self._context)


def remembered(scope: Scope) -> Principal | None:
    """Who an HTTP request to a keyed path acts as, when that is known at once (see
    :meth:`~pliers.keys.service.KeyService.remembered`); None when :class:`Authentication`
    must decide (the store asked, a key refused, a key in the query string)."""
    if b"key=" in scope.get("query_string", b""):
        return None
    keys = scope["app"].state.runtime.keys
    found: Principal | None = keys.remembered(_bearer(scope))
    return found


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _is_preflight(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "OPTIONS":
        return False
    return any(name == b"access-control-request-method" for name, _ in scope["headers"])


def _take_key_param(scope: Scope) -> str | None:
    """Remove ``key`` from the query string (uvicorn's access log prints the scope's query)."""
    query: bytes = scope.get("query_string", b"")
    if b"key=" not in query:
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    secret = next((v for k, v in pairs if k == KEY_PARAM), None)
    scope["query_string"] = urlencode([(k, v) for k, v in pairs if k != KEY_PARAM]).encode()
    return secret or None


async def _refuse(scope: Scope, receive: Receive, send: Send, missing: bool) -> None:
    message = (
        "this route needs a key: send Authorization: Bearer <key>"
        if missing
        else "the key is unknown, revoked or expired"
    )
    response = failure(401, Unauthorized.code, message)
    response.headers.update(Unauthorized.headers or {})
    await _answer(scope, receive, send, response)


async def _answer(scope: Scope, receive: Receive, send: Send, response: Any) -> None:
    if scope["type"] == "websocket":
        await _deny_upgrade(scope, receive, send, response)
    else:
        await response(scope, receive, send)


async def _deny_upgrade(scope: Scope, receive: Receive, send: Send, response: Any) -> None:
    """Refuse a WebSocket upgrade with an HTTP answer where the server can send one."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await response(scope, receive, send)
    else:
        await send({"type": "websocket.close", "code": 1008})


def requires(scope: KeyScope) -> Callable[[Endpoint], Endpoint]:
    """Decorate a route's endpoint: it runs only for a request whose key has ``scope``.

    Raises :class:`~pliers.errors.Forbidden` (or refuses a WebSocket upgrade with a 403).
    """

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            acting = principal.get()
            if acting is None or scope not in acting.scopes:
                socket = _socket_of(args, kwargs)
                error = _denied(acting, scope)
                if socket is None:
                    raise error
                response = failure(error.status_code, error.code, error.message)
                await _deny_upgrade(socket.scope, socket.receive, socket.send, response)
                return None
            return await endpoint(*args, **kwargs)

        # FastAPI reads the parameters from the signature, resolving string annotations in the
        # function's module: give it the endpoint's own, already resolved.
        guarded.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
        guarded.pliers_scope = scope  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def _denied(acting: Principal | None, scope: str) -> Unauthorized | Forbidden:
    if acting is None or acting is PUBLIC:
        return Unauthorized("this route needs a key: send Authorization: Bearer <key>")
    return Forbidden(f"this key lacks the scope {scope!r}")


def _socket_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> WebSocket | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, WebSocket):
            return value
    return None


def acting() -> Principal:
    """The principal of the current request (for routes that check more than one scope)."""
    found = principal.get()
    if found is None:
        raise Unauthorized("this route needs a key: send Authorization: Bearer <key>")
    return found


#: The name of the security scheme in the OpenAPI document.
SCHEME = "apiKey"


def routes(app: Any) -> list[RouteContext]:
    """Every route of ``app``, those of included routers too."""
    return list(iter_route_contexts(app.routes))


def document_security(app: Any) -> None:
    """Declare the bearer key in the app's OpenAPI document, with the scope of each route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema  # type: ignore[no-any-return]
        schema: dict[str, Any] = build()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`plk_…`, or `PLIERS_ADMIN_KEY`): "
            "`Authorization: Bearer <key>`. Needed once authentication is on (an admin key is "
            "set or any key exists); each operation names the scope it needs.",
        }
        for route in routes(app):
            scope = getattr(route.endpoint, "pliers_scope", None)
            item = schema.get("paths", {}).get(route.path_format or "", {})
            if scope is None or not item:
                continue
            for method in getattr(route, "methods", None) or ():
                operation = item.get(method.lower())
                if operation is not None:
                    operation["security"] = [{SCHEME: [scope]}]
                    note = f"Needs a key with the scope `{scope}`."
                    described = operation.get("description")
                    operation["description"] = f"{described}\n\n{note}" if described else note
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
