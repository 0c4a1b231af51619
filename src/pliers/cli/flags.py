"""A command-line flag for each setting, made from :class:`pliers.settings.Settings`.

Each flag's help names its environment variable and its default, so ``--help`` is the reference,
and a setting added to ``Settings`` gets its flag without anyone remembering to write it. Values
stay text until pydantic reads them, so a bad flag is refused with the same one-line message as a
bad variable. Secrets are the exception: read from the environment only, since a flag would show
them to anyone who lists processes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args, get_origin

import typer
from rich.markup import escape

from pliers.settings import Settings

#: What each setting does, in a few words (a setting missing here still gets its flag).
HELP: dict[str, str] = {
    "database_url": "sqlite:///path.db or postgresql://user@host:port/db",
    "redis_url": "redis://host:port/db: cache and cross-process fan-out of live events",
    "host": "Interface to bind",
    "port": "Port to bind",
    "workers": "Server processes (above 1 needs PostgreSQL)",
    "max_body_bytes": "Larger request bodies get 413",
    "header_read_timeout": "Seconds a client has to send a request's head",
    "max_connections_per_client": "HTTP connections one client address may hold open",
    "allowed_hosts": "Host names answered with authentication off (comma-separated; * any)",
    "migrate_on_start": "Apply migrations on start",
    "db_pool_min": "PostgreSQL connections kept open per process",
    "db_pool_max": "Most PostgreSQL connections per process",
    "log_level": "debug, info, warning or error, in any case",
    "log_format": "text (one line for a person) or json (one object per line)",
    "access_log": "One log line per request",
    "shutdown_timeout": "On SIGTERM, seconds requests in flight get to finish",
    "metrics_sample_seconds": "Seconds between samples of the gauges of /metrics",
    "sendgrid_base_url": "The SendGrid-compatible API to call",
    "mail_from": "Sender address of notification mail",
    "notify_max_attempts": "Delivery attempts before a notification is failed",
    "notify_poll_seconds": "Seconds between looks for due mail when nothing woke the dispatcher",
    "dispatcher_enabled": "Deliver queued mail in this process",
    "stream_buffer": "Messages waiting for one stream client before it is closed (1008)",
    "stream_max_message_bytes": "The largest message a stream client may send",
    "stream_poll_interval": "Seconds between reads of the store when no commit was announced",
}
#: Flags named apart from their setting, where the setting's name reads badly as a flag.
NAMES = {"migrate_on_start": "migrate", "dispatcher_enabled": "dispatcher"}
_SECRET_SUFFIXES = ("_key", "_secret", "_password", "_token")


def env_name(setting: str) -> str:
    return f"PLIERS_{setting.upper()}"


def env_only(setting: str) -> bool:
    """Secrets: read from the environment only."""
    return setting.endswith(_SECRET_SUFFIXES)


def _kind(annotation: Any) -> str:
    """The metavar of a setting's type."""
    if annotation is bool:
        return "BOOL"
    if get_origin(annotation) is Literal:
        return "|".join(str(a) for a in get_args(annotation))
    if annotation is int:
        return "INTEGER"
    if annotation is float:
        return "NUMBER"
    return "TEXT"


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def help_text(setting: str) -> str:
    field = Settings.model_fields[setting]
    what = HELP.get(setting) or field.description or setting.replace("_", " ").capitalize()
    # escaped: Rich would read "[env: ...]" as markup and print nothing of it
    return escape(f"{what} [env: {env_name(setting)}; default: {_default(field.default)}]")


def parameter(setting: str) -> inspect.Parameter:
    """The typer parameter of ``setting``: its value is None unless the flag is given."""
    field = Settings.model_fields[setting]
    flag = NAMES.get(setting, setting).replace("_", "-")
    if field.annotation is bool:
        option = typer.Option(None, f"--{flag}/--no-{flag}", help=help_text(setting))
        annotation: Any = bool | None
    else:
        option = typer.Option(
            None, f"--{flag}", help=help_text(setting), metavar=_kind(field.annotation)
        )
        annotation = str | None
    return inspect.Parameter(
        setting, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
    )


def settings_flags(
    names: Iterable[str] | None = None, *, extra: Iterable[inspect.Parameter] = ()
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command a flag for each setting of ``names`` (default: every one but secrets)."""
    chosen = [n for n in (names or Settings.model_fields) if not env_only(n)]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        params = [*extra, *(parameter(n) for n in chosen)]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return command

    return decorate


def env_only_settings() -> list[str]:
    return [env_name(n) for n in Settings.model_fields if env_only(n)]
