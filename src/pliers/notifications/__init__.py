"""Email notifications: the mail backends, the outbox and the dispatcher that delivers it."""

from __future__ import annotations

from pliers.notifications.dispatcher import Dispatcher
from pliers.notifications.email import ConsoleMailer, EmailResult, EmailService, Mailer
from pliers.notifications.outbox import (
    NewNotification,
    Notification,
    NotificationOutbox,
    OutboxStore,
)
from pliers.settings import Settings


def mailer_for(settings: Settings) -> Mailer:
    """SendGrid when an API key is set, otherwise the console backend."""
    if settings.sendgrid_api_key:
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
