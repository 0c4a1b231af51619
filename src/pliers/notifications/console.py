"""The console mail backend: messages go to the log, for development."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from pliers.notifications.mail import DEFAULT_FROM, EmailResult, recipients

mail_log = logging.getLogger("pliers.mail")


class ConsoleMailer:
    """Writes each message to the ``pliers.mail`` log instead of sending it (development)."""

    def __init__(self, mail_from: str = DEFAULT_FROM, logger: logging.Logger | None = None) -> None:
        self.mail_from = mail_from
        self.log = logger or mail_log

    async def send_email(
        self,
        *,
        to: str | Sequence[str],
        subject: str,
        body: str = "",
        template_id: str | None = None,
        html: bool = False,
        dynamic_data: dict[str, Any] | None = None,
    ) -> EmailResult:
        message_id = f"console-{uuid.uuid4()}"
        content = f"template {template_id} with {dynamic_data or {}}" if template_id else body
        self.log.info(
            "mail %s from %s to %s\nSubject: %s\nContent-Type: %s\n\n%s",
            message_id,
            self.mail_from,
            ", ".join(recipients(to)),
            subject,
            "text/html" if html else "text/plain",
            content,
        )
        return EmailResult(message_id=message_id, success=True)

    async def aclose(self) -> None:
        return None
