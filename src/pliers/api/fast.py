"""Thin endpoints for the hot routes, placed ahead of their FastAPI declarations.

FastAPI's per-request work (dependency solving, parsing the body into Python objects and validating
them again, building a Request) was most of a publish's server CPU. These endpoints validate the
body straight from its bytes with the same pydantic models (in Rust) and call the same services.

Only what they can serve is served here: a request they cannot decide (a body that does not
validate, a content type other than plain JSON, unusual query parameters) is handed, body and all,
to the FastAPI route declared for the same path, which answers exactly as it always has (the
envelope, error codes, validation messages, 415). The FastAPI declarations stay the source of the
OpenAPI document. :class:`HotPathApp` is the app that puts them in front of those routes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pliers.api.auth import Acting, Authentication, remembered, requires
from pliers.api.cors import PREFIX as CORS_PREFIX
from pliers.api.cors import PublicFormCORS
from pliers.api.envelope import Unexpected, ok, raised, unexpected
from pliers.api.limits import BODY, AnswerAfterBody, BodyLimits, Refused, replaying
from pliers.api.observe import Observation, RequestObserver
from pliers.errors import PliersError
from pliers.events.model import (
    ID_PATTERN,
    MAX_BIGINT,
    BatchRequest,
    PublishRequest,
    QueryRequest,
)
from pliers.runtime import Runtime
from pliers.submissions.model import NewSubmission

#: What an endpoint does with a request: its response, or None to leave it to the FastAPI route.
Serve = Callable[[Runtime, Scope, bytes], Awaitable[Response | None]]

_JSON = (b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8")
_AGGREGATE_ID = re.compile(ID_PATTERN)
#: query parameters of an aggregate read, with their bounds
_READ_PARAMETERS = {
    "fromSequence": ("from_sequence", 0, MAX_BIGINT),
    "toSequence": ("to_sequence", 0, MAX_BIGINT),
    "limit": ("limit", 1, 100_000),
}


def _plain_json(scope: Scope) -> bool:
    """Does the request declare no content type, or plain JSON (FastAPI parses both as JSON)?"""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.lower() in _JSON
    return True


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when the client went away."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class ThinEndpoint:
    """An ASGI endpoint that serves what ``serve`` decides and hands the rest to ``fallback``."""

    def __init__(self, serve: Serve, fallback: ASGIApp, *, reads_body: bool) -> None:
        self.serve = serve
        self.fallback = fallback
        self.reads_body = reads_body
        #: the scope the endpoint requires (see pliers.api.auth.requires)
        self.pliers_scope = getattr(serve, "pliers_scope", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        if self.reads_body:
            # read whole by BodyLimits, which replays it on ``receive`` for the fallback too
            given = scope.get(BODY)
            if given is None:
                read = await _read_body(receive)
                if read is None:
                    return
                given, receive = read, replaying(read, receive)
            body = given
        response = await self.respond(scope, body) if _plain_json(scope) else None
        if response is not None:
            await response(scope, receive, send)
            return
        await self.fallback(scope, receive, send)

    async def respond(self, scope: Scope, body: bytes) -> Response | None:
        """The answer of ``serve`` (a :class:`PliersError` it raised answered with its envelope,
        as FastAPI's handler for it answers a route's), or None for the fallback."""
        try:
            return await self.serve(scope["app"].state.runtime, scope, body)
        except PliersError as e:
            return raised(e, scope["method"], scope["path"])


@requires("events:write")
async def publish(rt: Runtime, scope: Scope, body: bytes) -> Response | None:
    try:
        request = PublishRequest.model_validate_json(body)
    except ValidationError:
        return None
    [result] = await rt.events.publish([request.event])
    return ok(result.to_wire(), 200 if result.duplicate else 201)


@requires("events:write")
async def publish_batch(rt: Runtime, scope: Scope, body: bytes) -> Response | None:
    try:
        request = BatchRequest.model_validate_json(body)
    except ValidationError:
        return None
    results = await rt.events.publish(request.events)
    duplicate = bool(results) and results[0].duplicate
    data = {"events": [r.to_wire() for r in results], "count": len(results)}
    if duplicate:
        data["duplicate"] = True
    return ok(data, 200 if duplicate else 201)


@requires("events:read")
async def query(rt: Runtime, scope: Scope, body: bytes) -> Response | None:
    try:
        request = QueryRequest.model_validate_json(body)
    except ValidationError:
        return None
    page = await rt.store.query_json(request.query)
    return Response(
        b'{"success":true,"data":' + page.to_json() + b"}", media_type="application/json"
    )


@requires("events:read")
async def read_aggregate(rt: Runtime, scope: Scope, body: bytes) -> Response | None:
    aggregate_id = scope["path_params"]["aggregate_id"]
    if len(aggregate_id) > 255 or not _AGGREGATE_ID.fullmatch(aggregate_id):
        return None
    bounds: dict[str, int] = {}
    for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        known = _READ_PARAMETERS.get(name)
        if known is None or known[0] in bounds or not value.isascii() or not value.isdigit():
            return None
        keyword, low, high = known
        number = int(value)
        if not low <= number <= high:
            return None
        bounds[keyword] = number
    events = await rt.store.read_aggregate_json(aggregate_id, **bounds)
    return Response(
        b'{"success":true,"data":{"events":' + events.encode() + b"}}",
        media_type="application/json",
    )


@requires("submissions:write")
async def create_submission(rt: Runtime, scope: Scope, body: bytes) -> Response | None:
    try:
        request = NewSubmission.model_validate_json(body)
    except ValidationError:
        return None
    key = _header(scope, b"idempotency-key")
    accepted = await rt.submissions.create(request, idempotency_key=key)
    if accepted.created:
        return ok(accepted.submission, 201)
    response = ok(accepted.submission, 200)
    response.headers["Idempotent-Replayed"] = "true"
    return response


#: (method, path, endpoint): each path is one a FastAPI route declares.
ENDPOINTS: list[tuple[str, str, Serve]] = [
    ("POST", "/v1/events/events", publish),
    ("POST", "/v1/events/events/batch", publish_batch),
    ("POST", "/v1/events/events/query", query),
    ("GET", "/v1/events/events/aggregates/{aggregate_id}", read_aggregate),
    ("POST", "/v1/submissions/submissions", create_submission),
]


class HotRoutes:
    """The thin endpoints, just outside FastAPI's exception handling (:class:`ThinEndpoint`
    answers what they raise with the same envelope); every other request, and every request they
    hand on, goes on to that exception handling and FastAPI's routing (``rest``)."""

    def __init__(self, rest: ASGIApp) -> None:
        self.rest = rest
        self.exact: dict[tuple[str, str], ThinRoute] = {}
        #: (method, prefix): routes with one path parameter at the end of their path
        self.prefixed: list[tuple[str, str, ThinRoute]] = []
        for method, path, serve in ENDPOINTS:
            route = ThinRoute(path, ThinEndpoint(serve, rest, reads_body=method != "GET"))
            prefix, brace, _ = path.partition("{")
            if brace:
                self.prefixed.append((method, prefix, route))
            else:
                self.exact[(method, path)] = route

    def match(self, scope: Scope) -> ThinRoute | None:
        """The thin route of an HTTP request, with its path parameters set in ``scope``."""
        if scope["type"] != "http":
            return None
        method, path = scope["method"], scope["path"]
        route = self.exact.get((method, path))
        if route is not None:
            return route
        for wanted, prefix, route in self.prefixed:
            if method == wanted and path.startswith(prefix):
                value = path[len(prefix) :]
                if value and "/" not in value:
                    scope["path_params"] = {route.parameter: value}
                    return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the route :class:`HotPathApp` matched on the way in
        route = scope.get("route")
        if isinstance(route, ThinRoute):
            await route.endpoint(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


class ThinRoute:
    """A hot route: its path template (the label of its metrics) and its endpoint."""

    def __init__(self, path: str, endpoint: ThinEndpoint) -> None:
        self.path = path
        self.endpoint = endpoint
        self.parameter = path.partition("{")[2].rstrip("}")


class HotPath:
    """A request for a thin route, served in one coroutine where the app's own middleware take a
    layer each: the same steps, in the same order, by the same code (:class:`Observation`,
    :class:`Acting`, :meth:`BodyLimits.read`, the answer to an unexpected error), without a
    ``send`` and ``receive`` wrapped per layer.

    Only a request whose key is known at once takes it (see :func:`remembered`), with the scope
    its route requires and a plain JSON body; any other (the first of a key, a refused one, a key
    in the query string, another content type) goes through the middleware (``layered``), which
    answer it as they always have. So it stands in only for middleware that have nothing else to
    do then: :data:`STANDS_IN_FOR`.
    """

    #: what the app's own middleware may be for a :class:`HotPath` to stand in for them:
    #: :class:`AnswerAfterBody` has nothing to do once the body is read whole before the answer,
    #: :class:`PublicFormCORS` nothing outside the public form routes
    STANDS_IN_FOR = frozenset(
        {RequestObserver, AnswerAfterBody, Unexpected, Authentication, PublicFormCORS, BodyLimits}
    )

    def __init__(self, observer: RequestObserver, limits: BodyLimits, layered: ASGIApp) -> None:
        self.access_log = observer.access_log
        self.limits = limits
        self.layered = layered

    @classmethod
    def standing_in(cls, own: list[Any], layered: ASGIApp) -> HotPath | None:
        """The hot path of an app whose own middleware are ``own``, if it can stand in for them."""
        kinds = {type(layer): layer for layer in own}
        needed = (RequestObserver, Authentication, BodyLimits)
        if not kinds.keys() <= cls.STANDS_IN_FOR or not all(k in kinds for k in needed):
            return None
        if any(path.startswith(CORS_PREFIX) for _, path, _ in ENDPOINTS):
            return None
        return cls(kinds[RequestObserver], kinds[BodyLimits], layered)

    async def __call__(self, route: ThinRoute, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = route.endpoint
        found = remembered(scope) if _plain_json(scope) else None
        if found is None or (
            endpoint.pliers_scope is not None and endpoint.pliers_scope not in found.scopes
        ):
            await self.layered(scope, receive, send)
            return
        observation = Observation(scope)
        acting = Acting(scope, found)
        try:
            response = await self._answer(endpoint, scope, receive, send, observation)
            if response is not None:
                observation.answering(response)
                await response(scope, receive, send)
        except Exception as exc:
            if observation.started:
                raise
            response = unexpected(exc, scope)
            observation.answering(response)
            await response(scope, receive, send)
        finally:
            acting.leave()
            observation.finish(scope, access_log_on=self.access_log)

    async def _answer(
        self,
        endpoint: ThinEndpoint,
        scope: Scope,
        receive: Receive,
        send: Send,
        observation: Observation,
    ) -> Response | None:
        """The answer to give, or None when the client left or the fallback answered."""
        body = b""
        if endpoint.reads_body:
            try:
                read = await self.limits.read(scope, receive)
            except Refused as refused:
                return refused.response
            if read is None:
                return None  # the client left
            body = read
        response = await endpoint.respond(scope, body)
        if response is None:
            await endpoint.fallback(scope, replaying(body, receive), observation.sending(send))
        return response


class HotPathApp(FastAPI):
    """FastAPI, with the hot routes served by thin endpoints in the same middleware.

    A request for a hot route enters at the outermost of the app's own middleware (request id,
    access log and metrics, the 500 envelope, the key check, body limits: everything added with
    ``add_middleware``), skipping the layers FastAPI and Starlette put around them (their own
    last-resort 500, which :class:`~pliers.api.envelope.Unexpected` answers first, FastAPI's
    OpenTelemetry hooks and its body limit, which Pliers does not configure) and those they put
    inside them (the exception handling and the router): :class:`HotRoutes` sits just inside
    the app's own middleware. Where it can, a :class:`HotPath` takes such a request through the
    steps of those middleware in one coroutine.
    """

    #: the thin routes, where a request for one of them enters the middleware, and the hot path
    _hot: tuple[HotRoutes, ASGIApp, HotPath | None] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        own_types = {type_ for type_, _, _ in self.user_middleware}
        own: list[Any] = []
        layer: Any = stack
        entry: ASGIApp | None = None
        #: where the thin routes go: under the innermost of the app's own middleware, or (with
        #: none) just above the exception handling
        above: Any = None
        while not isinstance(layer, ExceptionMiddleware):
            if type(layer) in own_types:
                own.append(layer)
                entry = entry or layer
                above = layer
            elif entry is None:
                above = layer
            layer = layer.app
        routes = HotRoutes(layer)
        above.app = routes
        entry = entry or routes
        self._hot = (routes, entry, HotPath.standing_in(own, entry))
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        assert self._hot is not None
        routes, entry, hot = self._hot
        route = routes.match(scope)
        if route is None:
            await super().__call__(scope, receive, send)
            return
        if self.root_path:
            scope["root_path"] = self.root_path
        scope["app"] = self
        # as FastAPI's routes do: what wraps the routes labels metrics and log lines with the
        # route's path template
        scope["route"] = route
        if hot is not None:
            await hot(route, scope, receive, send)
        else:
            await entry(scope, receive, send)
