"""Pages for people: the hosted form page (``/f/{formId}``) and the console (``/console``).

Server-rendered HTML (Jinja2, autoescaped), a stylesheet and two small scripts served from the
package (``/static``), no build step and nothing loaded from elsewhere.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from pliers.web import console, errors, form_page

__all__ = ["install"]

STATIC_PATH = "/static"


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their HTML error pages to ``app``."""
    app.include_router(form_page.router)
    app.include_router(console.router)
    app.mount(STATIC_PATH, StaticFiles(packages=[("pliers.web", "static")]), name="static")
    errors.install(app)
