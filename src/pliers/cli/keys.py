"""``pliers keys``: keys for operators with access to the database, and protected mode.

Protected mode (as Redis has it): with authentication off, anyone who reaches the port may do
anything, so ``pliers serve`` then listens on loopback only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import pydantic
import typer
from rich.console import Console

from pliers.errors import PliersError
from pliers.keys import SCOPES, KeyRequest, KeyService
from pliers.keys.model import ADMIN
from pliers.settings import Settings, load_settings
from pliers.storage import open_backend

keys = typer.Typer(help="Create, list and revoke API keys (needs access to the database).")
err = Console(stderr=True)
log = logging.getLogger("pliers.serve")

T = TypeVar("T")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="sqlite:///path.db or postgresql://... [env PLIERS_DATABASE_URL]"
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings(database_url: str | None) -> Settings:
    try:
        return load_settings(database_url=database_url)
    except PliersError as e:
        raise _fail(e.message, 2) from None


def _run(settings: Settings, work: Callable[[KeyService], Awaitable[T]]) -> T:
    """``work`` on the key service of the database the settings name."""

    async def run() -> T:
        adapters = await open_backend(
            settings.database_url,
            migrate=settings.migrate_on_start,
            pool_min=1,
            pool_max=2,
            db_timeout=settings.db_timeout,
            migrate_timeout=settings.migrate_timeout,
        )
        try:
            return await work(KeyService(adapters.keys, admin_key=None, cache_seconds=0))
        finally:
            await adapters.close()

    try:
        return asyncio.run(run())
    except PliersError as e:
        raise _fail(e.message) from None


def _duration(text: str) -> timedelta:
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise _fail(f"--expires-in {text!r}: give a number and a unit, e.g. 90m, 12h, 30d, 8w", 2)
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


@keys.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    scope: Annotated[
        list[str], typer.Option(help=f"A scope to grant (repeat): {', '.join(SCOPES)}")
    ],
    expires_in: Annotated[
        str | None, typer.Option(help="Lifetime, e.g. 30d, 12h (default: never expires)")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a key and print its secret (shown this once: only its hash is kept)."""
    settings = _settings(database_url)
    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        raise _fail(f"unknown scope {unknown[0]!r}; scopes: {', '.join(SCOPES)}", 2)
    expires = datetime.now(UTC) + _duration(expires_in) if expires_in else None
    try:
        request = KeyRequest.model_validate({"name": name, "scopes": scope, "expires_at": expires})
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        raise _fail(f"--{first['loc'][0]}: {first['msg']}", 2) from None
    key, secret = _run(settings, lambda service: service.create(request, by=ADMIN))
    err.print(
        f"created key {key.id} ({', '.join(key.scopes)})"
        + (f", expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "")
        + "; the secret below is shown once:",
        highlight=False,
    )
    typer.echo(secret)


@keys.command("list")
def list_keys(database_url: DatabaseOpt = None) -> None:
    """List keys (never their secrets)."""
    found = _run(_settings(database_url), lambda service: service.list())
    now = datetime.now(UTC)
    for key in found:
        if key.revoked_at is not None:
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        elif key.expires_at is not None and key.expires_at <= now:
            state = f"expired {key.expires_at:%Y-%m-%d %H:%M}"
        elif key.expires_at is not None:
            state = f"expires {key.expires_at:%Y-%m-%d %H:%M}"
        else:
            state = "active"
        typer.echo(f"{key.id}  {key.name}  [{', '.join(key.scopes)}]  {state}")
    if not found:
        err.print("no keys", highlight=False)


@keys.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `pliers keys list`)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Revoke a key at once, in every server process (on SQLite: within
    PLIERS_KEY_CACHE_SECONDS for a running server)."""
    key = _run(_settings(database_url), lambda service: service.revoke(key_id))
    err.print(f"revoked key {key.id} ({key.name})", highlight=False)


# --- protected mode ---------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def authentication_on(settings: Settings) -> bool:
    """Will the server ask for keys: an admin key is set, or a key exists?"""
    if settings.admin_key is not None:
        return True
    adapters = await open_backend(
        settings.database_url, migrate=False, pool_min=1, pool_max=1, db_timeout=settings.db_timeout
    )
    try:
        return await adapters.keys.exists()
    finally:
        await adapters.close()


def protected_mode(settings: Settings) -> bool:
    """Refuse to serve openly beyond loopback; warn once when serving openly on it.

    True when the server will serve in protected mode (authentication off, loopback only).
    """
    if asyncio.run(authentication_on(settings)):
        return False
    if not is_loopback(settings.host):
        raise _fail(
            f"refusing to listen on {settings.host} with authentication off: set "
            "PLIERS_ADMIN_KEY (32+ characters) or create a key with `pliers keys create`, "
            "or listen on 127.0.0.1",
            2,
        )
    log.warning(
        "authentication is off: anyone on this machine can use the API; listening on "
        "loopback only (set PLIERS_ADMIN_KEY to serve beyond it)"
    )
    return True
