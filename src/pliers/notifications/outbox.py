"""The notification outbox: mail queued in the submission's own transaction, delivered later.

:class:`OutboxStore` is the storage port (each backend package under :mod:`pliers.storage` has one);
:class:`NotificationOutbox` is the service on top of it: the submission hook, the queries the API
serves, re-queueing, claiming due mail and recording how its delivery ended, and the wake-up
signal the dispatcher waits on. The dispatcher asks it, never the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pliers import metrics
from pliers.errors import NotificationNotFailed, NotificationNotFound
from pliers.events.model import NewEvent, format_time
from pliers.events.service import EventService
from pliers.events.stamping import stamp_request
from pliers.events.store import EventStore, Transaction
from pliers.notifications.templating import default_body, render, render_subject
from pliers.submissions.model import Written

log = logging.getLogger(__name__)

Status = Literal["queued", "sending", "sent", "failed"]
STATUSES: tuple[Status, ...] = ("queued", "sending", "sent", "failed")
AGGREGATE_TYPE = "notification"


@dataclass(frozen=True, slots=True)
class NewNotification:
    """A message to queue: already rendered, so delivery needs nothing but this row."""

    id: str
    submission_id: str
    form_id: str
    recipients: list[str]
    subject: str
    body: str
    html: bool = False
    channel: str = "email"


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    submission_id: str
    form_id: str
    channel: str
    recipients: list[str]
    subject: str
    body: str
    html: bool
    status: Status
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    updated_at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "submissionId": self.submission_id,
            "formId": self.form_id,
            "channel": self.channel,
            "recipients": self.recipients,
            "subject": self.subject,
            "body": self.body,
            "html": self.html,
            "status": self.status,
            "attempts": self.attempts,
            "nextAttemptAt": (
                format_time(self.next_attempt_at)
                if self.next_attempt_at is not None and self.status in ("queued", "sending")
                else None
            ),
            "lastError": self.last_error,
            "providerMessageId": self.provider_message_id,
            "createdAt": format_time(self.created_at),
            "updatedAt": format_time(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class NotificationQuery:
    """The notifications a list returns: those matching every filter given, oldest first."""

    submission_id: str | None = None
    form_id: str | None = None
    status: Status | None = None
    limit: int = 100

    def filters(self) -> list[tuple[str, str]]:
        """``(field, value)`` of each filter given; the field is also the stored column."""
        given = (
            ("submission_id", self.submission_id),
            ("form_id", self.form_id),
            ("status", self.status),
        )
        return [(field, value) for field, value in given if value is not None]


class OutboxStore(Protocol):
    """Storage of the outbox. Methods taking ``tx`` run inside the caller's transaction.

    Methods that change a claimed row take the ``attempts`` value of the claim as a fencing token:
    when the lease ran out and another dispatcher claimed the row again, the change is refused
    (returns False) and the caller appends no event.
    """

    async def enqueue(self, tx: Transaction, notifications: Sequence[NewNotification]) -> None: ...

    async def watch(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever any process commits queued mail, until cancelled.

        Returns at once where the backend has no such signal; the dispatcher's poll (and the
        in-process wake-up of :class:`NotificationOutbox`) then find the mail.
        """
        ...

    async def claim(self, limit: int, lease_seconds: float) -> list[Notification]:
        """Mark up to ``limit`` due rows ``sending`` for ``lease_seconds``, counting an attempt.

        A row is due when queued and its next attempt time has come, or when sending and its
        lease ran out. Concurrent claimers never receive the same row.
        """
        ...

    async def mark_sent(
        self, tx: Transaction, notification_id: str, attempts: int, message_id: str | None
    ) -> bool: ...

    async def reschedule(
        self, tx: Transaction, notification_id: str, attempts: int, delay_seconds: float, error: str
    ) -> bool: ...

    async def mark_failed(
        self, tx: Transaction, notification_id: str, attempts: int, error: str
    ) -> bool: ...

    async def requeue(self, tx: Transaction, notification_id: str) -> Notification | None:
        """Queue a failed row again with a fresh attempt count; None when it is not failed."""
        ...

    async def get(
        self, notification_id: str, tx: Transaction | None = None
    ) -> Notification | None: ...

    async def list(self, query: NotificationQuery) -> list[Notification]: ...

    async def depth(self) -> dict[str, int]:
        """How many notifications each status holds (statuses with none may be absent)."""
        ...


def notifications_for(written: Written) -> list[NewNotification]:
    """The messages a form's notifications ask for, rendered with the submission's data."""
    form, submission = written.form, written.submission
    data = submission.get("data") or {}
    return [
        NewNotification(
            id=str(uuid.uuid4()),
            submission_id=str(submission["id"]),
            form_id=str(form.get("id") or submission.get("formId")),
            recipients=list(spec.to),
            subject=render_subject(spec.subject, data),
            body=(
                render(spec.body, data, html=spec.html is True)
                if spec.body
                else default_body(form, data, html=spec.html is True)
            ),
            html=spec.html is True,
        )
        for spec in written.notifications
    ]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one attempt to deliver a claimed notification ended, and so what to record.

    Sent when ``error`` is None; otherwise tried again in ``retry_in`` seconds, or failed for good
    when ``retry_in`` is None (``permanent`` when the provider refused it outright).
    """

    notification: Notification
    message_id: str | None = None
    error: str | None = None
    retry_in: float | None = None
    permanent: bool = False


def outcome_event(notification: Notification, type_: str, payload: Mapping[str, Any]) -> NewEvent:
    """An event on the notification's own aggregate, correlated with its submission."""
    return stamp_request(
        NewEvent(
            type=type_,
            aggregate_id=notification.id,
            aggregate_type=AGGREGATE_TYPE,
            correlation_id=notification.submission_id,
            payload={
                "notificationId": notification.id,
                "submissionId": notification.submission_id,
                "formId": notification.form_id,
                "recipients": notification.recipients,
                **payload,
            },
        )
    )


class NotificationOutbox:
    """The outbox as the rest of Pliers sees it."""

    #: how long after an enqueue a commit announcement still wakes the dispatcher
    WAKE_WINDOW_SECONDS = 10.0

    def __init__(self, store: EventStore, events: EventService, adapter: OutboxStore) -> None:
        self.store = store
        self.events = events
        self.adapter = adapter
        self.wakeup = asyncio.Event()
        self._enqueued_at: float | None = None

    # -- the submission hook --------------------------------------------------------------------

    async def hook(self, tx: Transaction, written: Sequence[Written]) -> None:
        """Queue the notifications of written submissions in their transaction, in one insert.

        A :data:`pliers.submissions.service.SubmissionHook`; no network.
        """
        queued = [n for w in written for n in notifications_for(w)]
        if queued:
            await self.adapter.enqueue(tx, queued)
            self._enqueued_at = time.monotonic()

    def install(self) -> None:
        """Wake the dispatcher when a commit announced after an enqueue may have carried mail.

        The hook runs before its transaction commits, so the wake-up comes from the commit
        announcement (:meth:`EventService.committed`) that follows; the dispatcher's poll catches
        whatever this misses.
        """
        self.events.add_listener(self._on_commit)

    def _on_commit(self, position: int) -> None:
        if self._enqueued_at is not None:
            self.wakeup.set()

    def _claimed(self, count: int) -> None:
        """Stop waking the dispatcher once the mail queued here is picked up (or long after)."""
        if self._enqueued_at is None:
            return
        if count or time.monotonic() - self._enqueued_at > self.WAKE_WINDOW_SECONDS:
            self._enqueued_at = None

    # -- for the dispatcher -----------------------------------------------------------------------

    async def watch(self) -> None:
        """Set :attr:`wakeup` whenever any process commits queued mail, until cancelled."""
        await self.adapter.watch(self.wakeup.set)

    async def claim(self, limit: int, lease_seconds: float) -> list[Notification]:
        """Lease up to ``limit`` due notifications for ``lease_seconds`` (see OutboxStore.claim)."""
        claimed = await self.adapter.claim(limit, lease_seconds)
        self._claimed(len(claimed))
        return claimed

    async def record(self, deliveries: Sequence[Delivery]) -> tuple[int, int]:
        """Record how ``deliveries`` ended, each with its event, in one transaction.

        Returns how many were recorded sent and how many failed for good. A delivery whose claim
        is no longer the current one (the lease ran out and the row was claimed again) changes
        nothing and appends no event.
        """
        events: list[NewEvent] = []
        sent = failed = 0
        async with self.store.transaction() as tx:
            for d in deliveries:
                n = d.notification
                if d.error is None:
                    if await self.adapter.mark_sent(tx, n.id, n.attempts, d.message_id):
                        events.append(
                            outcome_event(
                                n,
                                "notification.sent",
                                {"providerMessageId": d.message_id, "attempts": n.attempts},
                            )
                        )
                        sent += 1
                        metrics.DELIVERY_SECONDS.observe(
                            (datetime.now(UTC) - n.created_at).total_seconds()
                        )
                    else:
                        log.warning(
                            "notification %s was claimed again before it was recorded", n.id
                        )
                elif d.retry_in is None:
                    if await self.adapter.mark_failed(tx, n.id, n.attempts, d.error):
                        events.append(
                            outcome_event(
                                n,
                                "notification.failed",
                                {
                                    "reason": d.error,
                                    "attempts": n.attempts,
                                    "permanent": d.permanent,
                                },
                            )
                        )
                        failed += 1
                        log.warning(
                            "notification %s failed after %d attempt(s): %s",
                            n.id,
                            n.attempts,
                            d.error,
                        )
                else:
                    await self.adapter.reschedule(tx, n.id, n.attempts, d.retry_in, d.error)
            results = await tx.append(events) if events else []  # last: it takes the log's lock
        if results:
            await self.events.committed(max(r.position for r in results))
        return sent, failed

    # -- queries and commands for the API -------------------------------------------------------

    async def get(self, notification_id: str) -> Notification | None:
        return await self.adapter.get(notification_id)

    async def list(
        self,
        *,
        submission_id: str | None = None,
        form_id: str | None = None,
        status: Status | None = None,
        limit: int = 100,
    ) -> list[Notification]:
        query = NotificationQuery(submission_id, form_id, status, limit)
        return await self.adapter.list(query)

    async def depth(self) -> dict[str, int]:
        return await self.adapter.depth()

    async def retry(self, notification_id: str) -> Notification:
        """Queue a failed notification again; appends ``notification.requeued``."""
        async with self.store.transaction() as tx:
            current = await self.adapter.get(notification_id, tx)
            if current is None:
                raise NotificationNotFound(f"notification {notification_id!r} does not exist")
            requeued = await self.adapter.requeue(tx, notification_id)
            if requeued is None:
                raise NotificationNotFailed(
                    f"notification {notification_id!r} is {current.status}; only a failed "
                    "notification can be retried"
                )
            [result] = await tx.append(
                [
                    outcome_event(
                        requeued,
                        "notification.requeued",
                        {"previousAttempts": current.attempts, "lastError": current.last_error},
                    )
                ]
            )
        await self.events.committed(result.position)
        self.wakeup.set()
        return requeued
