"""A fresh, migrated PostgreSQL database per test, cloned from a template built once."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from pliers.storage import migrations
from pliers.storage.postgres import apply_migrations

TEMPLATE_PREFIX = "pliers_tmpl_"
TEST_PREFIX = "pliers_test_"
_TEMPLATE_LOCK = 0x706C74706C  # one session builds a given template at a time


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def template_name() -> str:
    """Named after the migrations' digest, so a changed migration gets a new template."""
    return TEMPLATE_PREFIX + migrations.fingerprint("postgres")[:16]


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def ensure_template(admin_url: str) -> str:
    """Build the template database once (safe when several sessions race); returns its name."""
    name = template_name()
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_LOCK)
        try:
            exists = await admin.fetchval(
                "SELECT datistemplate FROM pg_database WHERE datname = $1", name
            )
            if exists:
                return name
            if exists is not None:  # a half-built template from an interrupted run
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            conn = await asyncpg.connect(with_database(admin_url, name))
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()
            await admin.execute(f'ALTER DATABASE "{name}" WITH is_template = true')
            return name
        finally:
            await admin.execute("SELECT pg_advisory_unlock($1)", _TEMPLATE_LOCK)
    finally:
        await admin.close()


@dataclass
class TestDatabase:
    """A database that exists for one test."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    name: str
    url: str
    connection: asyncpg.Connection


async def create_test_database(admin: asyncpg.Connection, admin_url: str, template: str) -> str:
    name = f"{TEST_PREFIX}{worker_id()}_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY WAL_LOG')
    return name


async def drop_database(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
