"""Helpers for notification tests: a dispatcher for tests, forms and submissions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pliers.events.model import NewEvent
from pliers.forms.definition import EmailNotification
from pliers.notifications import Dispatcher, EmailService
from pliers.notifications.outbox import NotificationOutbox
from pliers.runtime import Runtime
from pliers.submissions.model import Written


def make_dispatcher(
    outbox: NotificationOutbox, service: EmailService, **options: Any
) -> Dispatcher:
    """A dispatcher that retries at once and polls often, for tests."""
    defaults: dict[str, Any] = {"retry_initial": 0.0, "poll_seconds": 0.05, "max_attempts": 3}
    return Dispatcher(outbox, service, **{**defaults, **options})


def written(form: dict[str, Any], submission: dict[str, Any]) -> Written:
    """What the submission service hands its hooks: the form's notifications typed as checked."""
    mail = [EmailNotification.model_validate(n) for n in form.get("notifications", [])]
    return Written(form, submission, mail)


def form_resource(
    notifications: list[dict[str, Any]] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A form resource as the Forms engine returns it."""
    form: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "Registration Form",
        "description": "",
        "fields": [
            {"name": "name", "type": "text", "label": "Name", "required": True},
            {"name": "email", "type": "email", "label": "Email", "required": True},
        ],
        "validation": [],
        "notifications": (
            notifications
            if notifications is not None
            else [{"type": "email", "to": ["ops@example.com"], "subject": "New: {{name}}"}]
        ),
        "version": 1,
        "status": "active",
        "createdAt": "2026-11-25T12:00:00.000000Z",
        "updatedAt": "2026-11-25T12:00:00.000000Z",
    }
    form.update(overrides)
    return form


async def submit(
    rt: Runtime, form: dict[str, Any], data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Store a submission as the submission service does: hooks, its event, commit."""
    submission = {
        "id": str(uuid.uuid4()),
        "formId": form["id"],
        "formVersion": form["version"],
        "data": data if data is not None else {"name": "Ada", "email": "ada@example.com"},
        "submittedBy": None,
        "status": "submitted",
        "createdAt": "2026-11-25T12:00:01.000000Z",
    }
    async with rt.store.transaction() as tx:
        for hook in rt.submission_hooks:
            await hook(tx, [written(form, submission)])
        [result] = await tx.append(
            [
                NewEvent(
                    type="submission.created",
                    aggregate_id=submission["id"],
                    payload={"submissionId": submission["id"], "formId": form["id"]},
                )
            ]
        )
    await rt.events.committed(result.position)
    return submission


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 15.0) -> None:
    """Wait for ``check`` to hold; ``limit`` only guards against hanging, it measures nothing."""
    async with asyncio.timeout(limit):
        while not await check():  # noqa: ASYNC110 -- the state lives in the database
            await asyncio.sleep(0.02)
    assert await check(), what


async def statuses(outbox: NotificationOutbox) -> dict[str, str]:
    return {n.id: n.status for n in await outbox.list(limit=1000)}


async def all_sent(outbox: NotificationOutbox | None, count: int = 1) -> bool:
    assert outbox is not None
    found = await statuses(outbox)
    return len(found) == count and set(found.values()) == {"sent"}
