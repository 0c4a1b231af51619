"""The dispatcher: delivers queued notifications in the background and records the outcome.

Each round claims a batch of due rows (a lease: a dispatcher that dies leaves rows that become
due again when the lease runs out), sends them, and records each outcome together with its event
on the notification's own aggregate. A failed attempt is scheduled again after a growing delay
kept in the database; after the last attempt the notification is ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from pliers.errors import EmailServiceError
from pliers.notifications.email import Mailer
from pliers.notifications.outbox import Notification, NotificationOutbox, outcome_event

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        outbox: NotificationOutbox,
        mailer: Mailer,
        *,
        max_attempts: int = 5,
        poll_seconds: float = 5.0,
        batch_size: int = 20,
        lease_seconds: float = 120.0,
        retry_initial: float = 30.0,
        retry_max: float = 3600.0,
        stop_grace_seconds: float = 30.0,
    ) -> None:
        self.outbox = outbox
        self.mailer = mailer
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.stop_grace_seconds = stop_grace_seconds
        self._task: asyncio.Task[None] | None = None
        #: outcomes this dispatcher recorded since it was created
        self.sent = 0
        self.failed = 0
        self._stopping = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="pliers-notification-dispatcher")

    async def stop(self) -> None:
        """Finish the batch in hand (up to the grace period), then stop claiming."""
        if self._task is None:
            return
        self._stopping.set()
        self.outbox.wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.stop_grace_seconds)
        except TimeoutError:
            # rows still in hand stay ``sending`` and come back when their lease runs out
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self.outbox.wakeup.clear()  # before the claim, so a wake-up during it is not lost
            try:
                delivered = await self.run_once()
            except Exception:
                log.exception("notification dispatcher round failed; trying again shortly")
                delivered = 0
            if delivered:
                continue  # there may be more due right away
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.wakeup.wait(), self.poll_seconds)

    # -- one round ------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch of due notifications and deliver it; returns how many were claimed."""
        claimed = await self.outbox.adapter.claim(self.batch_size, self.lease_seconds)
        self.outbox.claimed(len(claimed))
        if claimed:
            await asyncio.gather(*(self._deliver(n) for n in claimed))
        return len(claimed)

    async def drain(self) -> int:
        """Deliver rounds until nothing is due; returns how many were claimed in all."""
        total = 0
        while count := await self.run_once():
            total += count
        return total

    def retry_delay(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: exponential, jittered, capped."""
        base = self.retry_initial * 2.0 ** max(attempts - 1, 0)
        return min(self.retry_max, base * random.uniform(0.8, 1.2))  # noqa: S311 -- jitter, not crypto

    async def _deliver(self, n: Notification) -> None:
        try:
            result = await self.mailer.send_email(
                to=n.recipients, subject=n.subject, body=n.body, html=n.html
            )
        except EmailServiceError as e:
            await self._record_failure(n, e.message, permanent=not e.retryable)
        except Exception as e:
            log.exception("sending notification %s failed unexpectedly", n.id)
            await self._record_failure(n, f"{type(e).__name__}: {e}", permanent=False)
        else:
            await self._record_sent(n, result.message_id)

    async def _record_sent(self, n: Notification, message_id: str | None) -> None:
        store = self.outbox.store
        adapter = self.outbox.adapter
        async with store.transaction() as tx:
            if not await adapter.mark_sent(tx.connection, n.id, n.attempts, message_id):
                log.warning("notification %s was claimed again before it was recorded", n.id)
                return
            [result] = await tx.append(
                [
                    outcome_event(
                        n,
                        "notification.sent",
                        {"providerMessageId": message_id, "attempts": n.attempts},
                    )
                ]
            )
        self.sent += 1
        await self.outbox.events.committed(result.position)

    async def _record_failure(self, n: Notification, reason: str, *, permanent: bool) -> None:
        store = self.outbox.store
        adapter = self.outbox.adapter
        final = permanent or n.attempts >= self.max_attempts
        async with store.transaction() as tx:
            if not final:
                delay = self.retry_delay(n.attempts)
                await adapter.reschedule(tx.connection, n.id, n.attempts, delay, reason)
                log.info(
                    "notification %s attempt %d/%d failed (%s); next in %.0fs",
                    n.id,
                    n.attempts,
                    self.max_attempts,
                    reason,
                    delay,
                )
                return
            if not await adapter.mark_failed(tx.connection, n.id, n.attempts, reason):
                return
            [result] = await tx.append(
                [
                    outcome_event(
                        n,
                        "notification.failed",
                        {"reason": reason, "attempts": n.attempts, "permanent": permanent},
                    )
                ]
            )
        self.failed += 1
        log.warning("notification %s failed after %d attempt(s): %s", n.id, n.attempts, reason)
        await self.outbox.events.committed(result.position)
