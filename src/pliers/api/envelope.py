"""The JSON envelope every response is wrapped in, and the handlers that produce it for errors.

Route handlers return :func:`ok` and raise :class:`pliers.errors.PliersError`; they contain no
try/except for expected errors. A middleware that answers before any route runs returns
:func:`error` of the same classes, so every code comes from :mod:`pliers.errors`.
"""

from __future__ import annotations

import logging
from typing import Any

import pydantic_core
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pliers.errors import (
    HTTPError,
    InvalidJSON,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PliersError,
    UnsupportedMediaType,
    ValidationError,
)

log = logging.getLogger("pliers.api")

#: the errors of the statuses the web framework raises itself
_HTTP_ERRORS: dict[int, type[PliersError]] = {
    cls.status_code: cls
    for cls in (InvalidJSON, NotFound, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType)
}


class JSONResponse(Response):
    """A JSON response rendered by pydantic-core (fast, and knows datetimes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


def ok(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse({"success": True, "data": data}, status_code=status_code)


def failure(status_code: int, code: str, message: str, details: Any = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"success": False, "error": error}, status_code=status_code)


def error(exc: PliersError) -> JSONResponse:
    """The envelope of ``exc``, at its status, with the headers it needs."""
    response = failure(exc.status_code, exc.code, exc.message, exc.details)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def internal_error() -> JSONResponse:
    """The 500 of an unexpected error: it tells the client nothing of the cause."""
    return error(PliersError("internal server error"))


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_details(errors: list[Any]) -> list[dict[str, str]]:
    return [
        {"field": _field_name(tuple(e.get("loc", ()))), "rule": e["type"], "message": e["msg"]}
        for e in errors
    ]


def raised(exc: PliersError, method: str, path: str) -> Response:
    """The answer to ``exc`` raised by the route of ``method path``: its envelope, or the 500 of
    an internal error (logged, and told to the client without its cause)."""
    if exc.status_code >= 500 and exc.code == PliersError.code:
        log.error("internal error on %s %s", method, path, exc_info=exc)
        return internal_error()
    return error(exc)


async def _pliers_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PliersError)
    return raised(exc, request.method, request.url.path)


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        reason = next(e for e in errors if e.get("type") == "json_invalid")
        context = reason.get("ctx", {}).get("error", "malformed JSON")
        return error(InvalidJSON(f"request body is not valid JSON: {context}"))
    details = validation_details(errors)
    fields = ", ".join(dict.fromkeys(d["field"] for d in details))
    return error(ValidationError(f"Request validation failed: {fields}", details=details))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_ERRORS.get(exc.status_code, HTTPError).code
    if exc.status_code == 404:
        message = f"no route for {request.method} {request.url.path}"
    elif exc.status_code == 400:
        message = "request body could not be parsed as JSON"
    else:
        message = str(exc.detail)
    response = failure(exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        # Starlette names the methods of the first route whose path matched; a path served by
        # several routes (GET, PUT and DELETE of one form) allows all of theirs
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


class Unexpected:
    """Answer an unexpected exception with the 500 envelope, and keep the connection usable.

    Starlette's last-resort handler (where a handler for ``Exception`` would be registered)
    answers and then re-raises, and uvicorn then drops the keep-alive connection without a
    ``Connection: close``: a client that reused it for its next request got a reset instead of
    an answer. Caught here, the exception ends with the response; only one raised after the
    response started still reaches the server, which must close the connection to end it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:
                raise
            await unexpected(exc, scope)(scope, receive, send)


def unexpected(exc: Exception, scope: Scope) -> Response:
    """The answer to ``exc``, raised unexpectedly by the app before it answered: logged with its
    cause, the 500 envelope without it."""
    log.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=exc)
    return internal_error()


def _allowed_methods(request: Request) -> list[str]:
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and regex.match(path):
            methods.update(context.methods or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the envelope.

    Unexpected exceptions are answered by :class:`Unexpected`, which the app factory adds as
    its outermost middleware.
    """
    app.add_exception_handler(PliersError, _pliers_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
