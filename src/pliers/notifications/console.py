"""The console mail backend: messages go to the log, for development."""

from __future__ import annotations

import logging
import uuid
from typing import Unpack

from pliers.notifications.mail import DEFAULT_FROM, Email, EmailResult, recipients

mail_log = logging.getLogger("pliers.mail")


class ConsoleMailer:
    """Writes each message to the ``pliers.mail`` log instead of sending it (development)."""

    def __init__(self, mail_from: str = DEFAULT_FROM, logger: logging.Logger | None = None) -> None:
        self.mail_from = mail_from
        self.log = logger or mail_log

    async def send_email(self, **email: Unpack[Email]) -> EmailResult:
        message_id = f"console-{uuid.uuid4()}"
        template_id = email.get("template_id")
        content = (
            f"template {template_id} with {email.get('dynamic_data') or {}}"
            if template_id
            else email.get("body", "")
        )
        self.log.info(
            "mail %s from %s to %s\nSubject: %s\nContent-Type: %s\n\n%s",
            message_id,
            self.mail_from,
            ", ".join(recipients(email["to"])),
            email["subject"],
            "text/html" if email.get("html") else "text/plain",
            content,
        )
        return EmailResult(message_id=message_id, success=True)

    async def aclose(self) -> None:
        return None
