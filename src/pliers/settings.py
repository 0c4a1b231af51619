"""Settings: one typed object, read from ``PLIERS_*`` environment variables in one place."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pliers.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///pliers.db"
MIN_ADMIN_KEY = 32


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed ``PLIERS_DATABASE_URL``: which backend, and where."""

    backend: Literal["sqlite", "postgres"]
    url: str
    sqlite_path: Path | None = None

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme == "sqlite":
            rest = url[len("sqlite://") :]
            if not rest.startswith("/") or rest == "/":
                raise ConfigurationError(
                    f"PLIERS_DATABASE_URL {url!r}: a SQLite URL is sqlite:///relative/path.db "
                    "or sqlite:////absolute/path.db"
                )
            # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db"
            return cls("sqlite", url, Path(rest[1:]))
        if scheme in ("postgresql", "postgres"):
            parts = urlsplit(url)
            try:
                parts.port  # noqa: B018 -- urlsplit validates the port lazily
            except ValueError as e:
                raise ConfigurationError(f"PLIERS_DATABASE_URL {url!r}: {e}") from e
            if not parts.hostname and "host=" not in parts.query:
                raise ConfigurationError(
                    f"PLIERS_DATABASE_URL {url!r}: a PostgreSQL URL needs a host, "
                    "e.g. postgresql://postgres@127.0.0.1:5432/pliers"
                )
            return cls("postgres", url)
        raise ConfigurationError(
            f"PLIERS_DATABASE_URL {url!r}: unsupported scheme {scheme or '(none)'!r}; "
            "use sqlite:///path.db or postgresql://user@host:port/db"
        )


class Settings(BaseSettings):
    """Everything Pliers can be told. CLI flags override the environment."""

    model_config = SettingsConfigDict(env_prefix="PLIERS_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: levels of nested objects/arrays a JSON body or stream message may have; the upper bound
    #: leaves room for the envelope around a stored value within every serializer's own limit
    max_json_depth: int = Field(default=64, ge=4, le=128)
    #: seconds one Redis cache call may take before the cache is bypassed (read from the store)
    cache_timeout: float = Field(default=0.25, gt=0, le=10)
    #: seconds a client has to send a whole request body
    body_read_timeout: float = Field(default=15.0, gt=0, le=3600)
    #: seconds a client has to send a request's head (line and headers), from the connection's
    #: start or the previous response
    header_read_timeout: float = Field(default=10.0, gt=0, le=3600)
    #: HTTP connections one client address may hold open at once (per process)
    max_connections_per_client: int = Field(default=50, ge=1)
    #: Host names (any port) answered in protected mode (no keys); ``*``: any
    allowed_hosts: str = "localhost,127.0.0.1,[::1]"
    migrate_on_start: bool = True
    #: seconds applying the pending migrations may take (PostgreSQL), waiting for another
    #: process's migration included; then start-up (or ``pliers migrate``) fails
    migrate_timeout: float = Field(default=60.0, gt=0, le=86400)
    db_pool_min: int = Field(default=2, ge=0)
    db_pool_max: int = Field(default=20, ge=1)
    #: seconds one use of a PostgreSQL connection, or one wait for SQLite's write lock, may last
    #: before the request gets 503
    db_timeout: float = Field(default=5.0, gt=0, le=600)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: ``text`` for a person, ``json`` for a log pipeline (one object per line)
    log_format: Literal["text", "json"] = "text"
    #: one log line per request (method, path, status, duration)
    access_log: bool = True
    #: on SIGTERM, seconds requests in flight get to finish before the process stops anyway
    shutdown_timeout: int = Field(default=30, ge=0, le=3600)
    #: seconds between two samples of this process's gauges (pool use, stream lag, outbox depth)
    metrics_sample_seconds: float = Field(default=5.0, gt=0, le=3600)
    sendgrid_api_key: str | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com/v3"
    mail_from: str = "notifications@pliers.local"
    notify_max_attempts: int = Field(default=5, ge=1, le=100)
    notify_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    dispatcher_enabled: bool = True
    #: deliveries one dispatcher keeps in flight at once
    notify_concurrency: int = Field(default=10, ge=1, le=1000)
    #: live stream: messages waiting to be sent to one connection before it is closed (1008)
    stream_buffer: int = Field(default=2000, ge=1)
    #: live stream: connections one client address may hold at once (per process)
    stream_max_connections_per_client: int = Field(default=20, ge=1)
    #: live stream: subscriptions one client address may hold over all its connections
    stream_max_subscriptions_per_client: int = Field(default=200, ge=1)
    #: live stream: subscriptions this process holds for all its clients together
    stream_max_subscriptions: int = Field(default=10_000, ge=1)
    #: live stream: the largest message a client may send
    stream_max_message_bytes: int = Field(default=64 * 1024, ge=256)
    #: live stream: seconds between two reads of the store when no commit was announced
    stream_poll_interval: float = Field(default=1.0, gt=0, le=60)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    #: a key with every scope; setting it turns authentication on
    admin_key: SecretStr | None = None
    #: seconds a process trusts what it remembers of a key without asking the database
    key_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    #: submissions to public forms per client address (``limits`` notation, e.g. ``60/minute``)
    public_rate_limit: str = "60/minute"
    #: proxies (addresses or networks, comma-separated) whose ``X-Forwarded-For`` is believed
    trusted_proxies: str = ""

    @field_validator("admin_key")
    @classmethod
    def _admin_key_length(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or v.get_secret_value() == "":
            return None
        if len(v.get_secret_value()) < MIN_ADMIN_KEY:
            raise ValueError(
                f"must be at least {MIN_ADMIN_KEY} characters (e.g. `openssl rand -hex 32`)"
            )
        return v

    @field_validator("public_rate_limit")
    @classmethod
    def _rate_limit(cls, v: str) -> str:
        from limits import parse_many

        try:
            parse_many(v)
        except ValueError as e:
            raise ValueError(f"{v!r} is not a rate limit like 60/minute: {e}") from None
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: str) -> str:
        for part in filter(None, (p.strip() for p in v.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an address or network") from None
        return v

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @property
    def database(self) -> DatabaseURL:
        return DatabaseURL.parse(self.database_url)


def load_settings(**overrides: object) -> Settings:
    """Read the environment, apply non-None overrides, and check the result.

    Raises :class:`ConfigurationError` with a one-line message naming the bad setting.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)  # type: ignore[arg-type]  # keys are checked by pydantic
    except ValidationError as e:
        first = e.errors()[0]
        name = "PLIERS_" + str(first["loc"][0]).upper() if first["loc"] else "PLIERS_*"
        raise ConfigurationError(f"{name}: {first['msg']}") from e
    settings.database  # noqa: B018 -- parse now so a bad URL fails before anything starts
    return settings
