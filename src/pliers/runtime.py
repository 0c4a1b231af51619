"""What a running Pliers process holds: settings, the storage adapters and the services built on
them. The one place that assembles them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pliers.broker import Broker
from pliers.cache import Cache
from pliers.events.service import EventService
from pliers.events.store import EventStore
from pliers.keys import KeyService
from pliers.notifications import (
    Dispatcher,
    NotificationOutbox,
    dispatcher_for,
    mailer_for,
)
from pliers.ratelimit import RateLimit
from pliers.settings import Settings
from pliers.storage import Adapters, open_backend
from pliers.stream.hub import Hub
from pliers.stream.quota import StreamQuota

if TYPE_CHECKING:
    from pliers.forms.service import FormService
    from pliers.submissions.service import SubmissionHook, SubmissionService


def open_cache(redis_url: str | None, *, timeout: float | None = None) -> Cache:
    """Redis when ``redis_url`` is set (each call bounded by ``timeout`` seconds), otherwise a
    cache in this process's memory."""
    if redis_url:
        from pliers.cache.redis import DEFAULT_TIMEOUT, RedisCache

        return RedisCache.from_url(redis_url, timeout=timeout or DEFAULT_TIMEOUT)
    from pliers.cache.memory import MemoryCache

    return MemoryCache()


def open_broker(redis_url: str | None) -> Broker:
    """Redis pub/sub when ``redis_url`` is set, otherwise in-process only."""
    if redis_url:
        from pliers.broker.redis import RedisBroker

        return RedisBroker.from_url(redis_url)
    from pliers.broker.memory import MemoryBroker

    return MemoryBroker()


#: A named health check: returns details, raises when the dependency is down.
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Runtime:
    settings: Settings
    #: every storage adapter of the backend the settings name
    adapters: Adapters
    events: EventService
    #: checks whose failure makes the platform ``unhealthy`` (the database)
    critical_checks: dict[str, HealthCheck] = field(default_factory=dict)
    #: checks whose failure only makes it ``degraded`` (the cache, the broker)
    optional_checks: dict[str, HealthCheck] = field(default_factory=dict)
    #: run in the transaction that writes a group of submissions, after their rows and before
    #: their events (see :data:`pliers.submissions.service.SubmissionHook`)
    submission_hooks: list[SubmissionHook] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: the notification outbox (its hook is one of ``submission_hooks``)
    notifications: NotificationOutbox | None = None
    #: delivers the outbox in the background; None when ``dispatcher_enabled`` is off
    dispatcher: Dispatcher | None = None
    #: read-through cache of JSON values (Redis, or this process's memory); see pliers.cache
    cache: Cache = field(default_factory=lambda: open_cache(None))
    #: carries committed positions between processes (Redis pub/sub, or in-process)
    broker: Broker = field(default_factory=lambda: open_broker(None))
    #: True when ``cache`` is shared by every process (Redis), so invalidation reaches them all
    shared_cache: bool = False
    #: this process's live-stream dispatcher; built by for_adapters
    hub: Hub = field(init=False)
    #: API keys: who a request acts as; built by for_adapters
    keys: KeyService = field(init=False)
    #: submissions to public forms per client address; built by for_adapters
    public_rate_limit: RateLimit = field(init=False)
    #: what one client address may hold of this process's live stream; built by for_adapters
    stream_quota: StreamQuota = field(init=False)

    @property
    def store(self) -> EventStore:
        return self.adapters.store

    @classmethod
    def for_adapters(
        cls, settings: Settings, adapters: Adapters, *, redis_url: str | None = None
    ) -> Runtime:
        """A runtime on ``adapters``; with ``redis_url`` (default: the settings'), cache and broker
        use Redis. The caller closes what it opened; :meth:`close` closes the cache and broker."""
        redis_url = redis_url or settings.redis_url
        store = adapters.store
        runtime = cls(
            settings=settings,
            adapters=adapters,
            events=EventService(store, adapters.owned),
            cache=open_cache(redis_url, timeout=settings.cache_timeout),
            broker=open_broker(redis_url),
            shared_cache=bool(redis_url),
        )

        async def database() -> dict[str, Any]:
            await store.ping()
            return {"backend": store.backend}

        runtime.critical_checks["database"] = database
        runtime.hub = Hub(store, runtime.broker, poll_interval=settings.stream_poll_interval)
        runtime.stream_quota = StreamQuota(
            connections_per_client=settings.stream_max_connections_per_client,
            subscriptions_per_client=settings.stream_max_subscriptions_per_client,
            subscriptions=settings.stream_max_subscriptions,
        )
        runtime.events.add_listener(runtime.hub.committed)
        runtime.on_close(runtime.cache.close)
        runtime.on_close(runtime.broker.close)
        runtime.on_close(runtime.hub.close)
        if redis_url:

            async def redis() -> dict[str, Any]:
                await runtime.cache.ping()
                return {}

            runtime.optional_checks["redis"] = redis
        admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
        runtime.keys = KeyService(
            adapters.keys, admin_key=admin_key, cache_seconds=settings.key_cache_seconds
        )
        runtime.on_close(runtime.keys.close)
        runtime.public_rate_limit = RateLimit(
            settings.public_rate_limit, "public-submissions", redis_url=redis_url
        )
        runtime.on_close(runtime.public_rate_limit.close)
        runtime.notifications = NotificationOutbox(store, runtime.events, adapters.outbox)
        runtime.notifications.install()
        runtime.submission_hooks.append(runtime.notifications.hook)
        return runtime

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        adapters = await open_backend(
            settings.database_url,
            migrate=settings.migrate_on_start,
            pool_min=settings.db_pool_min,
            pool_max=settings.db_pool_max,
            db_timeout=settings.db_timeout,
            migrate_timeout=settings.migrate_timeout,
        )
        runtime = cls.for_adapters(settings, adapters)
        runtime._closers.insert(0, adapters.close)  # closed last, after what reads from it
        if settings.dispatcher_enabled and runtime.notifications is not None:
            mailer = mailer_for(settings)
            runtime.on_close(mailer.aclose)
            runtime.dispatcher = dispatcher_for(settings, runtime.notifications, mailer)
            runtime.dispatcher.start()
            runtime.on_close(runtime.dispatcher.stop)
        await runtime.hub.start()
        await runtime.keys.start()
        return runtime

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Register something to close at shutdown; closed in reverse order."""
        self._closers.append(closer)

    async def close(self) -> None:
        while self._closers:
            await self._closers.pop()()

    @cached_property
    def forms(self) -> FormService:
        """The Form Engine, on this runtime's store."""
        from pliers.forms.service import FormService

        cache = self.cache if self.shared_cache else None
        return FormService(self.store, self.adapters.forms, self.events, cache)

    @cached_property
    def submissions(self) -> SubmissionService:
        """The Submission Engine; it calls :attr:`submission_hooks` in each submission."""
        from pliers.submissions.service import SubmissionService

        forms = self.forms
        return SubmissionService(
            self.store, forms.records, self.events, forms, self.submission_hooks
        )
