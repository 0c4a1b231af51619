"""Hooks a project implements (in ``conftest.py`` or a plugin) to shape the plugin's databases."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_pliers_template(connection: Any, url: str) -> Any:
    """Put your schema into the template database that every test database is cloned from.

    Called once, when the template is built: after Pliers' migrations (unless
    ``pliers_schema = none``) and the ``pliers_migrations`` SQL files. ``connection`` is an
    asyncpg connection to the template; return an awaitable to use it (an ``async def``
    implementation does). ``url`` is the template's URL, for synchronous tools such as Alembic.
    Implementations run in a worker thread, so they may call ``asyncio.run``.

    The template is named after a digest of everything that goes into it, this hook's source
    included; list the files your hook reads (Alembic's ``versions`` directory) in the ini
    option ``pliers_template_inputs`` so that changing them builds a new template.
    """
