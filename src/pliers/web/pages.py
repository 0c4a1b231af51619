"""Rendering HTML pages: the template environment and the security headers every page carries.

Every page gets a fresh CSP nonce; the only scripts a page runs are the package's own files,
loaded with that nonce, so an answer or a form name that smuggles in markup can neither run
script (autoescaping renders it as text) nor load any.
"""

from __future__ import annotations

import secrets
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("pliers.web", "templates"),
    autoescape=True,  # every template, whatever its name: answers and names are user content
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def csp(nonce: str, *, frame_ancestors: str = "'none'") -> str:
    """The Content-Security-Policy of a page whose scripts carry ``nonce``."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data:",
            # 'self' covers ws:/wss: to the same host (CSP level 3): the console's live view
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    frame_ancestors: str = "'none'",
    referrer_policy: str = "no-referrer",
    private: bool = False,
) -> HTMLResponse:
    """A page rendered from ``template``, with a fresh nonce and the security headers.

    ``private`` pages (the console) are never stored by a browser or a proxy cache.
    """
    nonce = secrets.token_urlsafe(18)
    html = _env.get_template(template).render(
        {**context, "nonce": nonce, "static": _static_url(request)}
    )
    response = HTMLResponse(html, status_code=status_code)
    headers = response.headers
    headers["Content-Security-Policy"] = csp(nonce, frame_ancestors=frame_ancestors)
    headers["Referrer-Policy"] = referrer_policy
    headers["X-Content-Type-Options"] = "nosniff"
    if frame_ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    headers["Cache-Control"] = "no-store" if private else "no-cache"
    return response


def _static_url(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + "/static"
