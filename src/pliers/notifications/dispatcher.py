"""The dispatcher: delivers queued notifications in the background and records the outcome.

It keeps up to ``concurrency`` deliveries in flight, claiming due rows whenever a slot is free (a
claim is a lease: a dispatcher that dies leaves rows that become due again when the lease runs
out), so one slow provider call holds back its own slot and nothing else. Each outcome is
recorded together with its event on the notification's own aggregate. A failed attempt is
scheduled again after a growing, jittered delay kept in the database; after the last attempt the
notification is ``failed``. A graceful stop gives the deliveries in flight a grace period, then
cancels them and hands their rows back at once instead of leaving them leased.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import KW_ONLY, dataclass

from pliers.errors import EmailServiceError
from pliers.notifications.mail import Mailer
from pliers.notifications.outbox import Delivery, Notification, NotificationOutbox

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Dispatcher:
    outbox: NotificationOutbox
    mailer: Mailer
    _: KW_ONLY
    max_attempts: int = 5
    poll_seconds: float = 5.0
    batch_size: int = 20
    lease_seconds: float = 300.0
    retry_initial: float = 30.0
    retry_max: float = 3600.0
    stop_grace_seconds: float = 10.0
    concurrency: int = 10

    def __post_init__(self) -> None:
        #: deliveries in flight, each with the row it holds a lease on
        self._in_flight: dict[asyncio.Task[None], Notification] = {}
        #: the last claim filled every free slot, so more may be due as soon as one frees
        self._more_due = False
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._pending: list[Delivery] = []
        self._record_lock = asyncio.Lock()
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
        # woken by mail that other processes queue (PostgreSQL LISTEN), not only by the poll
        self._watch = asyncio.create_task(self.outbox.watch(), name="pliers-outbox-watch")

    async def stop(self) -> None:
        """Stop claiming; finish the deliveries in flight within the grace period, then cancel
        the rest and hand their rows back (due at once) instead of leaving them leased."""
        if self._task is None:
            return
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        self._stopping.set()
        self.outbox.wakeup.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=self.stop_grace_seconds)
        unfinished = dict(self._in_flight)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        if unfinished:
            await self._release(list(unfinished.values()))

    async def _release(self, held: list[Notification]) -> None:
        """Make rows whose delivery was cancelled due again now. The attempt still counts: the
        provider may have accepted the mail before the cancel (see README, at least once)."""
        try:
            await self.outbox.record(
                [Delivery(n, error="interrupted by a stop", retry_in=0.0) for n in held]
            )
            log.info("handed back %d notification(s) interrupted by the stop", len(held))
        except Exception:
            log.exception("could not hand back %d notification(s); their leases run out", len(held))

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self.outbox.wakeup.clear()  # before the claim, so a wake-up during it is not lost
            free = self.concurrency - len(self._in_flight)
            claimed = 0
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except Exception:
                    log.exception("notification dispatcher claim failed; trying again shortly")
                self._more_due = claimed == free
                if self._more_due:
                    continue  # there may be more due right away
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self.outbox.wakeup.wait()

    async def _claim(self, free: int) -> int:
        """Claim up to ``free`` due rows and start delivering each in a task of its own."""
        claimed = await self.outbox.claim(free, self.lease_seconds)
        for n in claimed:
            task = asyncio.create_task(self._deliver(n), name=f"pliers-deliver-{n.id}")
            self._in_flight[task] = n
            task.add_done_callback(self._delivered)
        return len(claimed)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        n = self._in_flight.pop(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # e.g. the database went away while recording
            log.error(
                "recording notification %s failed; it is retried after its lease",
                n.id,
                exc_info=error,
            )
        if self._more_due:
            self.outbox.wakeup.set()  # a slot is free and more may be due

    # -- one round ------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch of due notifications and deliver it; returns how many were claimed."""
        claimed = await self.outbox.claim(self.batch_size, self.lease_seconds)
        if claimed:
            outcomes = await asyncio.gather(
                *(self._deliver(n) for n in claimed), return_exceptions=True
            )
            for n, outcome in zip(claimed, outcomes, strict=True):
                if isinstance(outcome, Exception):  # e.g. the database went away while recording
                    log.error(
                        "recording notification %s failed; it is retried after its lease",
                        n.id,
                        exc_info=outcome,
                    )
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
            # give up well inside the lease, so the outcome is recorded before anyone reclaims it
            async with asyncio.timeout(self.lease_seconds / 2):
                result = await self.mailer.send_email(
                    to=n.recipients, subject=n.subject, body=n.body, html=n.html
                )
        except TimeoutError:
            delivery = self._failed(
                n, f"Email service error: no answer in {self.lease_seconds / 2:g}s"
            )
        except EmailServiceError as e:
            delivery = self._failed(n, e.message, permanent=not e.retryable)
        except Exception as e:
            log.exception("sending notification %s failed unexpectedly", n.id)
            delivery = self._failed(n, f"{type(e).__name__}: {e}")
        else:
            delivery = Delivery(n, message_id=result.message_id)
        await self._record(delivery)

    def _failed(self, n: Notification, error: str, *, permanent: bool = False) -> Delivery:
        """A failed attempt: tried again after a delay, or failed for good after the last one."""
        if permanent or n.attempts >= self.max_attempts:
            return Delivery(n, error=error, permanent=permanent)
        delay = self.retry_delay(n.attempts)
        log.info(
            "notification %s attempt %d/%d failed (%s); next in %.1fs",
            n.id,
            n.attempts,
            self.max_attempts,
            error,
            delay,
        )
        return Delivery(n, error=error, retry_in=delay)

    async def _record(self, delivery: Delivery) -> None:
        """Record ``delivery``, together with whatever else finished meanwhile (group commit).

        One transaction at a time per dispatcher: outcomes that finish while one is being written
        are written together by the next, so delivering a batch costs the submission path one
        short lock on the event log, not one per message.
        """
        self._pending.append(delivery)
        async with self._record_lock:
            batch, self._pending = self._pending, []
            if batch:
                sent, failed = await self.outbox.record(batch)
                self.sent += sent
                self.failed += failed
