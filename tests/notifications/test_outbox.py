"""The outbox end to end on PostgreSQL and SQLite: queued with the submission, delivered later."""

from __future__ import annotations

import asyncio
import time

import pytest

from pliers.notifications import EmailService
from pliers.notifications.outbox import NotificationOutbox
from pliers.runtime import Runtime
from pliers.testing import MockEmailProvider, running_runtime

from .helpers import (
    all_sent,
    eventually,
    form_resource,
    make_dispatcher,
    statuses,
    submit,
    written,
)

pytestmark = pytest.mark.integration


async def test_hook_queues_rendered_mail_in_the_submission_transaction(
    quiet_runtime: Runtime, outbox: NotificationOutbox, email_provider: MockEmailProvider
) -> None:
    form = form_resource(
        [
            {
                "type": "email",
                "to": ["ops@example.com", "b@example.com"],
                "subject": "New: {{name}}",
            },
            {
                "type": "email",
                "to": ["c@example.com"],
                "subject": "S",
                "body": "<p>{{name}}</p>",
                "html": True,
            },
        ]
    )
    submission = await submit(quiet_runtime, form, {"name": "<Ada>", "email": "ada@example.com"})

    queued = await outbox.list(submission_id=submission["id"])
    assert [n.status for n in queued] == ["queued", "queued"]
    plain, html = sorted(queued, key=lambda n: n.html)
    assert plain.recipients == ["ops@example.com", "b@example.com"]
    assert plain.subject == "New: <Ada>"
    assert "Name: <Ada>" in plain.body  # the default body lists the fields
    assert html.body == "<p>&lt;Ada&gt;</p>"
    assert {n.form_id for n in queued} == {form["id"]}
    assert email_provider.calls == []  # the hook never touches the network


async def test_a_rolled_back_submission_queues_nothing(
    quiet_runtime: Runtime, outbox: NotificationOutbox
) -> None:
    form = form_resource()
    submission = {"id": "sub-rollback", "formId": form["id"], "data": {"name": "Ada"}}

    async def failing_submission() -> None:
        async with quiet_runtime.store.transaction() as tx:
            await outbox.hook(tx, [written(form, submission)])
            raise RuntimeError("the submission failed after the hook")

    with pytest.raises(RuntimeError, match="after the hook"):
        await failing_submission()
    assert await outbox.list(submission_id="sub-rollback") == []


async def test_provider_down_never_blocks_the_submission_and_mail_arrives_once_it_is_back(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    """Down: the commit completes and the row waits. Back: one delivery, its event on its own
    aggregate, none on the submission's."""
    await email_provider.down()
    dispatcher = make_dispatcher(outbox, email_service, retry_initial=0.05, max_attempts=1000)
    dispatcher.start()
    try:
        submission = await asyncio.wait_for(submit(quiet_runtime, form_resource()), 5)
        [queued] = await outbox.list(submission_id=submission["id"])
        assert queued.status in ("queued", "sending")

        async def retried() -> bool:
            n = await outbox.get(queued.id)
            return n is not None and n.attempts >= 2 and n.last_error is not None

        await eventually(retried, "the dispatcher keeps trying while the provider is down")
        await email_provider.up()
        await eventually(lambda: all_sent(outbox, 1), "delivered once the provider is back")
    finally:
        await dispatcher.stop()

    assert len(email_provider.sent) == 1
    sent = await outbox.get(queued.id)
    assert sent is not None
    assert sent.status == "sent"
    assert sent.last_error is None
    events = await quiet_runtime.store.read_aggregate(queued.id)
    assert [e.type for e in events] == ["notification.sent"]
    assert events[0].aggregate_type == "notification"
    assert events[0].payload["providerMessageId"] == sent.provider_message_id
    assert events[0].payload["submissionId"] == submission["id"]
    assert events[0].correlation_id == submission["id"]
    on_submission = await quiet_runtime.store.read_aggregate(submission["id"])
    assert [e.type for e in on_submission] == ["submission.created"]


async def test_a_hanging_provider_does_not_slow_the_submission(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    """With a running dispatcher stuck on a provider that takes 30 s, submissions still commit."""
    email_provider.delay(30)
    dispatcher = make_dispatcher(outbox, email_service, stop_grace_seconds=0.1)
    dispatcher.start()
    try:
        await submit(quiet_runtime, form_resource())
        await eventually(lambda: _any_call(email_provider), "the dispatcher is sending")
        await asyncio.wait_for(submit(quiet_runtime, form_resource()), 5)
        assert len(await outbox.list()) == 2
    finally:
        await dispatcher.stop()


async def _any_call(provider: MockEmailProvider) -> bool:
    return bool(provider.calls)


async def test_one_hung_provider_call_holds_back_no_other_mail_and_a_stop_hands_it_back(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    """Mail queued while one call hangs goes out at once; the stop releases the hung one's lease."""
    email_provider.delay(60)
    dispatcher = make_dispatcher(outbox, email_service, stop_grace_seconds=0.1)
    dispatcher.start()
    form = form_resource()
    try:
        await submit(quiet_runtime, form)
        await eventually(lambda: _any_call(email_provider), "the first mail is being sent")
        [hung] = [n.id for n in await outbox.list()]
        email_provider.delay(0)  # only the call in progress hangs
        started = time.monotonic()
        for _ in range(4):
            await submit(quiet_runtime, form)

        async def four_sent() -> bool:
            return list((await statuses(outbox)).values()).count("sent") == 4

        await eventually(four_sent, "the other four are delivered while the first hangs")
        latency = time.monotonic() - started
        assert (await statuses(outbox))[hung] == "sending"
    finally:
        await dispatcher.stop()
    assert latency < 5
    after = await outbox.get(hung)
    assert after is not None
    assert after.status == "queued"  # handed back, not leased for another five minutes
    [again] = await outbox.adapter.claim(10, lease_seconds=60)
    assert again.id == hung


async def test_commit_wakes_the_dispatcher_without_waiting_for_the_poll(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    """With an hour-long poll interval, mail still goes out: the commit announcement wakes it."""
    dispatcher = make_dispatcher(outbox, email_service, poll_seconds=3600)
    dispatcher.start()
    try:
        await asyncio.sleep(0.05)  # let it reach its wait
        await submit(quiet_runtime, form_resource())
        await eventually(lambda: all_sent(outbox, 1), "woken by the commit")
    finally:
        await dispatcher.stop()
    assert len(email_provider.sent) == 1


async def test_stopped_dispatcher_leaves_the_rest_queued_for_the_next_one(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    form = form_resource()
    for _ in range(6):
        await submit(quiet_runtime, form)
    email_provider.delay(0.1)
    first = make_dispatcher(outbox, email_service, concurrency=2)
    first.start()

    async def some_sent() -> bool:
        return "sent" in (await statuses(outbox)).values()

    await eventually(some_sent, "the first dispatcher delivers something")
    await first.stop()
    after_stop = await statuses(outbox)
    assert "queued" in after_stop.values()
    assert "sending" not in after_stop.values()  # a graceful stop finishes what it holds

    second = make_dispatcher(outbox, email_service, concurrency=2)
    second.start()
    try:
        await eventually(lambda: all_sent(outbox, 6), "the second dispatcher delivers the rest")
    finally:
        await second.stop()
    assert len(email_provider.sent) == 6
    for notification_id in after_stop:
        events = await quiet_runtime.store.read_aggregate(notification_id)
        assert [e.type for e in events] == ["notification.sent"]


async def test_rows_of_a_crashed_dispatcher_come_back_after_the_lease(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    """A claim that is never reported (the process died) is delivered once its lease runs out."""
    await submit(quiet_runtime, form_resource())
    [crashed] = await outbox.adapter.claim(10, lease_seconds=0.3)
    assert crashed.status == "sending"
    assert await outbox.adapter.claim(10, lease_seconds=0.3) == []  # leased, not due

    dispatcher = make_dispatcher(outbox, email_service)
    dispatcher.start()
    try:
        await eventually(lambda: all_sent(outbox, 1), "delivered after the lease")
    finally:
        await dispatcher.stop()
    delivered = await outbox.get(crashed.id)
    assert delivered is not None
    assert delivered.attempts == 2
    # the dead dispatcher's late report is refused: its claim is no longer the current one
    async with quiet_runtime.store.transaction() as tx:
        assert not await outbox.adapter.mark_sent(tx, crashed.id, 1, "late")
    assert len(email_provider.sent) == 1


async def test_queued_mail_survives_a_restart(
    database_url: str, email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    async with running_runtime(database_url, dispatcher_enabled=False) as rt:
        await submit(rt, form_resource())
        await submit(rt, form_resource())
    async with running_runtime(database_url, dispatcher_enabled=False) as rt:
        assert rt.notifications is not None
        delivered = await make_dispatcher(rt.notifications, email_service).drain()
        assert delivered == 2
        assert await all_sent(rt.notifications, 2)
    assert len(email_provider.sent) == 2


async def test_last_failed_attempt_marks_failed_and_retry_requeues(
    quiet_runtime: Runtime, outbox: NotificationOutbox, email_provider: MockEmailProvider
) -> None:
    email_provider.fail(500, "Internal server error")
    submission = await submit(quiet_runtime, form_resource())
    async with EmailService(api_key="k", base_url=email_provider.base_url, attempts=1) as service:
        dispatcher = make_dispatcher(outbox, service, max_attempts=3)
        assert await dispatcher.drain() == 3

        [failed] = await outbox.list(submission_id=submission["id"])
        assert failed.status == "failed"
        assert failed.attempts == 3
        assert failed.last_error is not None
        assert "Internal server error" in failed.last_error
        assert len(email_provider.sent) == 3
        events = await quiet_runtime.store.read_aggregate(failed.id)
        assert [e.type for e in events] == ["notification.failed"]
        assert "Email service error" in events[0].payload["reason"]
        assert events[0].payload["attempts"] == 3

        requeued = await outbox.retry(failed.id)
        assert requeued.status == "queued"
        assert requeued.attempts == 0
        email_provider.reset()
        assert await dispatcher.drain() == 1
    sent = await outbox.get(failed.id)
    assert sent is not None
    assert sent.status == "sent"
    events = await quiet_runtime.store.read_aggregate(failed.id)
    assert [e.type for e in events] == [
        "notification.failed",
        "notification.requeued",
        "notification.sent",
    ]


async def test_a_refused_message_fails_at_once(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    """A 400 will not pass later: one attempt, then failed."""
    email_provider.fail(400, "Invalid email address")
    await submit(quiet_runtime, form_resource())
    await make_dispatcher(outbox, email_service, max_attempts=5).drain()
    [n] = await outbox.list()
    assert n.status == "failed"
    assert n.attempts == 1
    assert len(email_provider.sent) == 1
    [event] = await quiet_runtime.store.read_aggregate(n.id)
    assert event.payload["permanent"] is True


async def test_retries_wait_a_growing_delay_stored_in_the_database(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    email_provider.fail(503, "try later")
    await submit(quiet_runtime, form_resource())
    dispatcher = make_dispatcher(outbox, email_service, retry_initial=60, max_attempts=5)
    assert await dispatcher.run_once() == 1
    [n] = await outbox.list()
    assert n.status == "queued"
    assert n.next_attempt_at is not None
    assert (n.next_attempt_at - n.updated_at).total_seconds() > 30
    assert await dispatcher.run_once() == 0  # not due yet
    assert dispatcher.retry_delay(1) < dispatcher.retry_delay(4)


async def test_two_dispatchers_send_each_mail_exactly_once(
    database_url: str, email_provider: MockEmailProvider
) -> None:
    """Two processes' dispatchers over one queue: 50 mails, 50 deliveries, one event each."""
    email_provider.delay(0.02)
    async with (
        running_runtime(database_url, dispatcher_enabled=False) as a,
        running_runtime(database_url, dispatcher_enabled=False) as b,
        EmailService(api_key="k", base_url=email_provider.base_url) as service_a,
        EmailService(api_key="k", base_url=email_provider.base_url) as service_b,
    ):
        outbox_a, outbox_b = a.notifications, b.notifications
        assert outbox_a is not None
        assert outbox_b is not None
        form = form_resource()
        for _ in range(50):
            await submit(a, form)
        first = make_dispatcher(outbox_a, service_a, concurrency=5)
        second = make_dispatcher(outbox_b, service_b, concurrency=5)
        first.start()
        second.start()
        try:
            await eventually(lambda: all_sent(outbox_a, 50), "all delivered", 60)
        finally:
            await first.stop()
            await second.stop()
        assert first.sent + second.sent == 50
        assert first.sent > 0
        assert second.sent > 0  # both took part
        found = await outbox_a.list(limit=1000)
        for n in found:
            events = await a.store.read_aggregate(n.id)
            assert [e.type for e in events] == ["notification.sent"]
    assert len(email_provider.sent) == 50
    message_ids = {n.provider_message_id for n in found}
    assert len(message_ids) == 50


async def test_a_send_that_outlasts_half_the_lease_is_given_up(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    """The outcome is recorded before the lease ends, so no other dispatcher sends it meanwhile."""
    email_provider.delay(30)
    await submit(quiet_runtime, form_resource())
    dispatcher = make_dispatcher(outbox, email_service, lease_seconds=0.4, max_attempts=1)
    assert await dispatcher.run_once() == 1
    [n] = await outbox.list()
    assert n.status == "failed"
    assert n.last_error is not None
    assert "no answer in 0.2s" in n.last_error
