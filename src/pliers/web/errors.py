"""Errors on a page are pages: the API's handlers answer JSON, these answer HTML on the pages'
paths and hand every other request to the handler they replace."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from pliers.errors import PliersError
from pliers.web import access
from pliers.web.pages import render

Handler = Callable[[Request, Exception], Awaitable[Response]]
#: A handler as Starlette holds it: it may be plain or async.
Registered = Callable[[Request, Any], Response | Awaitable[Response]]

#: Paths whose errors are pages.
PAGE_PREFIXES = ("/f/", "/console")

_TITLES = {
    400: "This request cannot be read",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Too large",
    429: "Too many requests",
    503: "Unavailable",
}


def is_page(request: Request) -> bool:
    return request.url.path.startswith(PAGE_PREFIXES)


def install(app: FastAPI) -> None:
    for kind in (PliersError, RequestValidationError, HTTPException, Exception):
        previous = app.exception_handlers.get(kind)
        if previous is not None:
            app.add_exception_handler(kind, _paged(previous))


def _paged(previous: Registered) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        response = previous(request, exc)
        if inspect.isawaitable(response):
            response = await response
        if not is_page(request):
            return response
        return _page(request, exc, response)

    return handler


def _page(request: Request, exc: Exception, answered: Response) -> Response:
    """The page for an error the API's handler answered with ``answered``."""
    status = answered.status_code
    if status == 401 and request.url.path.startswith("/console"):
        signing_in = RedirectResponse("/console/sign-in", status_code=303)
        access.forget(signing_in)  # a session whose key no longer works ends here
        return signing_in
    if isinstance(exc, PliersError) and status < 500:
        message = exc.message
    elif status == 404:
        message = "There is no page at this address."
    elif status < 500:
        message = "The request could not be handled."
    else:
        message = "Something went wrong on the server; it has been logged."
    if status == 404 and request.url.path.startswith("/f/"):
        message = "This form does not exist, or it is not open to the public."
    page = render(
        request,
        "error.html",
        {
            "title": _TITLES.get(status, "Error"),
            "message": message,
            "back": "/console" if request.url.path.startswith("/console/") else None,
        },
        status_code=status,
        private=request.url.path.startswith("/console"),
    )
    for header in ("retry-after", "www-authenticate"):
        if header in answered.headers:
            page.headers[header] = answered.headers[header]
    return page
