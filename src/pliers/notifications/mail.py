"""The mail port: what the dispatcher needs of a backend (:mod:`.sendgrid`, :mod:`.console`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_FROM = "notifications@pliers.local"


@dataclass(frozen=True, slots=True)
class EmailResult:
    """What the provider said about a message it accepted."""

    message_id: str | None
    success: bool = True
    status_code: int | None = None


class Mailer(Protocol):
    """Anything that can send one email: the SendGrid client or the console backend."""

    async def send_email(
        self,
        *,
        to: str | Sequence[str],
        subject: str,
        body: str = "",
        template_id: str | None = None,
        html: bool = False,
        dynamic_data: dict[str, Any] | None = None,
    ) -> EmailResult: ...

    async def aclose(self) -> None: ...


def recipients(to: str | Sequence[str]) -> list[str]:
    return [to] if isinstance(to, str) else list(to)
