"""The ``pliers`` command."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pliers import __version__
from pliers.cli.flags import env_only_settings, settings_flags
from pliers.errors import PliersError
from pliers.logs import configure_logging, uvicorn_log_config
from pliers.metrics import MULTIPROC_ENV
from pliers.settings import Settings, load_settings
from pliers.storage import migrations, open_backend

app = typer.Typer(
    name="pliers",
    help="Pliers: an event-sourced forms platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True)
log = logging.getLogger("pliers.cli")

_ENV_ONLY_EPILOG = "Read from the environment only (secrets): " + ", ".join(env_only_settings())


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _pliers(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Pliers: an event-sourced forms platform."""


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except PliersError as e:
        raise _fail(e.message, 2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _env(name: str) -> str:
    return os.environ.get(f"PLIERS_{name}", "").strip().lower()


def _export(settings: Settings, **overrides: object) -> None:
    """Hand CLI overrides to server worker processes, which read the environment."""
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"PLIERS_{name.upper()}"] = str(value)


async def _migrate(settings: Settings) -> list[str]:
    adapters = await open_backend(
        settings.database_url,
        migrate=False,
        pool_min=1,
        pool_max=2,
        db_timeout=settings.db_timeout,
        migrate_timeout=settings.migrate_timeout,
    )
    try:
        return await adapters.store.migrate()
    finally:
        await adapters.close()


_STATUS = inspect.Parameter(
    "status",
    inspect.Parameter.KEYWORD_ONLY,
    default=typer.Option(
        False,
        "--status",
        help="List applied and pending migrations and check the applied ones' checksums; "
        "apply nothing (exit 1 when an applied migration changed)",
    ),
    annotation=bool,
)


@app.command()
@settings_flags(["database_url", "log_level", "log_format"], extra=[_STATUS])
def migrate(status: bool = False, **overrides: Any) -> None:
    """Apply the SQL migrations that are not yet applied."""
    settings = _settings(**overrides)
    if status:
        raise typer.Exit(_show_status(settings))
    try:
        applied = asyncio.run(_migrate(settings))
    except PliersError as e:
        raise _fail(e.message) from None
    backend = settings.database.backend
    if applied:
        for name in applied:
            err.print(f"applied {name} ({backend})", highlight=False)
    else:
        err.print(f"nothing to apply: {backend} database is up to date", highlight=False)


#: settings that mean nothing to a process without an HTTP server
_SERVER_ONLY = {
    "host", "port", "workers", "max_body_bytes", "access_log", "shutdown_timeout",
    "metrics_sample_seconds", "stream_buffer", "stream_max_message_bytes", "stream_poll_interval",
    "dispatcher_enabled", "header_read_timeout", "max_connections_per_client", "allowed_hosts",
}  # fmt: skip
_RELOAD = inspect.Parameter(
    "reload",
    inspect.Parameter.KEYWORD_ONLY,
    default=typer.Option(False, "--reload", help="Restart when the code changes (development)"),
    annotation=bool,
)


@app.command(epilog=_ENV_ONLY_EPILOG)
@settings_flags(extra=[_RELOAD])
def serve(reload: bool = False, **overrides: Any) -> None:
    """Start the HTTP and WebSocket server. Each flag overrides its environment variable."""
    settings = _settings(**overrides)
    if settings.workers > 1 and settings.database.backend == "sqlite":
        raise _fail(
            "--workers above 1 needs PostgreSQL: set PLIERS_DATABASE_URL=postgresql://...", 2
        )
    if reload and settings.workers > 1:
        raise _fail("--reload runs one process: leave --workers at 1", 2)
    # Check the store (and migrate once) before any worker starts, so a bad setting is one line.
    try:
        if settings.migrate_on_start:
            asyncio.run(_migrate(settings))
        else:
            asyncio.run(_check(settings))
        protected = protected_mode(settings)
    except PliersError as e:
        raise _fail(e.message) from None
    _export(settings, **overrides)

    import uvicorn

    from pliers.api.connections import GuardedHTTP, connection_rules

    log.info(
        "Pliers %s on http://%s:%d (%s, %d worker(s))",
        __version__,
        settings.host,
        settings.port,
        settings.database.backend,
        settings.workers,
    )
    with _metrics_dir(settings.workers):
        uvicorn.run(
            "pliers.api.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            # uvicorn applies this in its own process and again in each worker it spawns
            log_config=uvicorn_log_config(settings.log_level, settings.log_format),
            access_log=False,  # Pliers writes the access line, with the request id and route
            timeout_graceful_shutdown=settings.shutdown_timeout,
            ws_max_size=settings.max_body_bytes,
            # connections per client address, the request head's deadline, the Host check
            http=functools.partial(  # type: ignore[arg-type]  # uvicorn calls it like a class
                GuardedHTTP, rules=connection_rules(settings, protected=protected)
            ),
            # uvicorn believes X-Forwarded-For from 127.0.0.1 by default; Pliers only from the
            # proxies it is told to trust (the rate limits count by client address)
            proxy_headers=bool(settings.trusted_proxy_list),
            forwarded_allow_ips=",".join(settings.trusted_proxy_list) or None,
            reload=reload,
        )


@contextlib.contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """Give the workers a shared prometheus-client directory (multiprocess mode).

    One process keeps its metrics in memory. Several need a directory they all write to, empty at
    start: the one in ``PROMETHEUS_MULTIPROC_DIR`` when the operator chose it, else a temporary
    one, removed when the server stops.
    """
    if workers == 1 and not os.environ.get(MULTIPROC_ENV):
        yield
        return
    chosen = os.environ.get(MULTIPROC_ENV)
    path = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="pliers-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # a previous run's values would be added to this one's
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield
    finally:
        if not chosen:
            shutil.rmtree(path, ignore_errors=True)


async def _migration_status(settings: Settings) -> list[migrations.MigrationStatus]:
    adapters = await open_backend(
        settings.database_url, migrate=False, pool_min=1, pool_max=1, db_timeout=settings.db_timeout
    )
    try:
        applied = await adapters.store.applied_migrations()
    finally:
        await adapters.close()
    return migrations.status(settings.database.backend, applied)


def _show_status(settings: Settings) -> int:
    """Print each migration's state; 1 when an applied one differs from the shipped file."""
    try:
        statuses = asyncio.run(_migration_status(settings))
    except PliersError as e:
        raise _fail(e.message) from None
    for m in statuses:
        typer.echo(f"{m.state:<8} {m.name}" + (f"  {m.applied_at}" if m.applied_at else ""))
    changed = [m.name for m in statuses if m.state == "changed"]
    pending = sum(m.state == "pending" for m in statuses)
    backend = settings.database.backend
    if changed:
        err.print(
            f"[bold red]error:[/] applied migration(s) changed since they were applied "
            f"({backend}): {', '.join(changed)}; restore the shipped files or the database",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    err.print(f"{pending} pending migration(s) ({backend})", highlight=False)
    return 0


async def _check(settings: Settings) -> None:
    adapters = await open_backend(
        settings.database_url, migrate=False, pool_min=1, pool_max=1, db_timeout=settings.db_timeout
    )
    try:
        await adapters.store.ping()
    finally:
        await adapters.close()


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


async def _work(settings: Settings) -> None:
    import signal

    from pliers.runtime import Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime = await Runtime.start(settings.model_copy(update={"dispatcher_enabled": True}))
    try:
        await stop.wait()
    finally:
        await runtime.close()  # finishes the batch in hand, then stops


@app.command(epilog=_ENV_ONLY_EPILOG)
@settings_flags([n for n in Settings.model_fields if n not in _SERVER_ONLY])
def worker(**overrides: Any) -> None:
    """Deliver queued email notifications until stopped (no HTTP server)."""
    settings = _settings(**overrides)
    backend = "SendGrid" if settings.sendgrid_api_key else "console (no PLIERS_SENDGRID_API_KEY)"
    log.info(
        "Pliers %s notification worker (%s, mail: %s)",
        __version__,
        settings.database.backend,
        backend,
    )
    try:
        asyncio.run(_work(settings))
    except PliersError as e:
        raise _fail(e.message) from None


def main() -> None:
    # Until the settings are read (each command reads them, then configures logging again).
    configure_logging("info", "json" if _env("LOG_FORMAT") == "json" else "text")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["app", "main"]


from pliers.cli.keys import keys as _keys  # noqa: E402 -- sub-commands register last
from pliers.cli.keys import protected_mode  # noqa: E402
from pliers.cli.tail import events as _events  # noqa: E402

app.add_typer(_events, name="events")
app.add_typer(_keys, name="keys")
