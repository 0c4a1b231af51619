"""The mail port: what the dispatcher needs of a backend (:mod:`.sendgrid`, :mod:`.console`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, Protocol, TypedDict, Unpack

DEFAULT_FROM = "notifications@pliers.local"


@dataclass(frozen=True, slots=True)
class EmailResult:
    """What the provider said about a message it accepted."""

    message_id: str | None
    success: bool = True
    status_code: int | None = None


class Email(TypedDict):
    """One message, as every backend's ``send_email`` takes it (keyword arguments).

    ``body`` is the content (HTML when ``html``); with ``template_id`` the provider renders its
    stored template with ``dynamic_data`` instead.
    """

    to: str | Sequence[str]
    subject: str
    body: NotRequired[str]
    template_id: NotRequired[str | None]
    html: NotRequired[bool]
    dynamic_data: NotRequired[dict[str, Any] | None]


class Mailer(Protocol):
    """Anything that can send one email: the SendGrid client or the console backend."""

    async def send_email(self, **email: Unpack[Email]) -> EmailResult: ...

    async def aclose(self) -> None: ...


def recipients(to: str | Sequence[str]) -> list[str]:
    return [to] if isinstance(to, str) else list(to)
