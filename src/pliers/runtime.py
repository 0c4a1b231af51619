"""What a running Pliers process holds: settings, the store and the services built on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pliers.events.service import EventService
from pliers.events.store import EventStore, Transaction
from pliers.notifications import (
    Dispatcher,
    NotificationOutbox,
    dispatcher_for,
    mailer_for,
)
from pliers.settings import Settings
from pliers.storage import open_store

if TYPE_CHECKING:
    from pliers.forms.service import FormService
    from pliers.submissions.service import SubmissionService

#: Called inside the transaction that stores a submission, with the form and submission resources
#: as the API returns them (see SPEC "Forms" and "Submissions"); the notification outbox is one.
SubmissionHook = Callable[[Transaction, dict[str, Any], dict[str, Any]], Awaitable[None]]

#: A named health check: returns details, raises when the dependency is down.
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Runtime:
    settings: Settings
    store: EventStore
    events: EventService
    #: checks whose failure makes the platform ``unhealthy`` (the database)
    critical_checks: dict[str, HealthCheck] = field(default_factory=dict)
    #: checks whose failure only makes it ``degraded`` (the cache, the broker)
    optional_checks: dict[str, HealthCheck] = field(default_factory=dict)
    #: run in the submission's transaction, after it is written and before its event is appended
    submission_hooks: list[SubmissionHook] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: the notification outbox (its hook is one of ``submission_hooks``)
    notifications: NotificationOutbox | None = None
    #: delivers the outbox in the background; None when ``dispatcher_enabled`` is off
    dispatcher: Dispatcher | None = None

    @classmethod
    def for_store(cls, settings: Settings, store: EventStore) -> Runtime:
        runtime = cls(settings=settings, store=store, events=EventService(store))

        async def database() -> dict[str, Any]:
            await store.ping()
            return {"backend": store.backend}

        runtime.critical_checks["database"] = database
        runtime.notifications = NotificationOutbox(store, runtime.events)
        runtime.notifications.install()
        runtime.submission_hooks.append(runtime.notifications.hook)
        return runtime

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        store = await open_store(
            settings.database_url,
            migrate=settings.migrate_on_start,
            pool_min=settings.db_pool_min,
            pool_max=settings.db_pool_max,
        )
        runtime = cls.for_store(settings, store)
        runtime.on_close(store.close)
        if settings.dispatcher_enabled and runtime.notifications is not None:
            mailer = mailer_for(settings)
            runtime.on_close(mailer.aclose)
            runtime.dispatcher = dispatcher_for(settings, runtime.notifications, mailer)
            runtime.dispatcher.start()
            runtime.on_close(runtime.dispatcher.stop)
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
        from pliers.storage.forms import form_records

        return FormService(self.store, form_records(self.store), self.events)

    @cached_property
    def submissions(self) -> SubmissionService:
        """The Submission Engine; it calls :attr:`submission_hooks` in each submission."""
        from pliers.submissions.service import SubmissionService

        forms = self.forms
        return SubmissionService(
            self.store, forms.records, self.events, forms, self.submission_hooks
        )
