"""Email notifications: the outbox, the dispatcher that delivers it, and the mail backends.

The SendGrid backend (:mod:`.sendgrid`, which loads httpx) is imported only when it is used, so
that the outbox and the dispatcher do not pay for a client they may never need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pliers.notifications.console import ConsoleMailer
from pliers.notifications.dispatcher import Dispatcher
from pliers.notifications.mail import EmailResult, Mailer
from pliers.notifications.outbox import (
    NewNotification,
    Notification,
    NotificationOutbox,
    OutboxStore,
)
from pliers.settings import Settings

if TYPE_CHECKING:
    from pliers.notifications.sendgrid import EmailService


def __getattr__(name: str) -> Any:
    if name == "EmailService":
        from pliers.notifications.sendgrid import EmailService

        return EmailService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mailer_for(settings: Settings) -> Mailer:
    """SendGrid when an API key is set, otherwise the console backend."""
    if settings.sendgrid_api_key:
        from pliers.notifications.sendgrid import EmailService

        return EmailService(
            api_key=settings.sendgrid_api_key,
            base_url=settings.sendgrid_base_url,
            mail_from=settings.mail_from,
        )
    return ConsoleMailer(mail_from=settings.mail_from)


def dispatcher_for(settings: Settings, outbox: NotificationOutbox, mailer: Mailer) -> Dispatcher:
    return Dispatcher(
        outbox,
        mailer,
        max_attempts=settings.notify_max_attempts,
        poll_seconds=settings.notify_poll_seconds,
        concurrency=settings.notify_concurrency,
    )


__all__ = [
    "ConsoleMailer",
    "Dispatcher",
    "EmailResult",
    "EmailService",
    "Mailer",
    "NewNotification",
    "Notification",
    "NotificationOutbox",
    "OutboxStore",
    "dispatcher_for",
    "mailer_for",
]
