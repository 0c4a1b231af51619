"""The SendGrid v3 mail backend: an httpx client with retries through stamina."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Unpack

import httpx
import stamina

from pliers.errors import EmailServiceError
from pliers.notifications.mail import DEFAULT_FROM, Email, EmailResult, recipients


class _RetryableError(Exception):
    """One failed attempt that may succeed later; ``after`` is the wait the provider asked for."""

    def __init__(self, error: EmailServiceError, after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.after = after


def _reason(response: httpx.Response) -> str:
    """The provider's own explanation, from SendGrid's ``{"errors": [{"message": ...}]}``."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            messages = [
                str(e["message"]) for e in errors if isinstance(e, dict) and e.get("message")
            ]
            if messages:
                return "; ".join(messages)
        if isinstance(body.get("message"), str):
            return str(body["message"])
    text = response.text.strip()
    return text[:200] if text else response.reason_phrase or "no reason given"


def retry_after_seconds(
    value: str | None, *, cap: float, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


class EmailService:
    """A client of the SendGrid v3 mail API, with retries for what can pass.

    Rate limits (429, honouring ``Retry-After``), 5xx and network errors are retried with
    exponential backoff and jitter (stamina); other 4xx are final. After the last attempt an
    :class:`EmailServiceError` says why. One ``httpx.AsyncClient`` serves every call; close it
    with :meth:`aclose`.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.sendgrid.com/v3",
        *,
        attempts: int = 3,
        timeout: float = 10.0,
        mail_from: str = DEFAULT_FROM,
        wait_initial: float = 0.5,
        wait_max: float = 10.0,
        wait_jitter: float = 1.0,
        retry_after_cap: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.mail_from = mail_from
        self.attempts = attempts
        self.timeout = timeout
        self.wait_initial = wait_initial
        self.wait_max = wait_max
        self.wait_jitter = wait_jitter
        self.retry_after_cap = retry_after_cap
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> EmailService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send_email(self, **email: Unpack[Email]) -> EmailResult:
        """Send one message to every recipient (``POST /mail/send``)."""
        to, subject = recipients(email["to"]), email["subject"]
        if not to:
            raise EmailServiceError("Email service error: no recipients", retryable=False)
        personalization: dict[str, Any] = {
            "to": [{"email": address} for address in to],
            "subject": subject,
        }
        payload: dict[str, Any] = {
            "personalizations": [personalization],
            "from": {"email": self.mail_from},
            "subject": subject,
        }
        template_id = email.get("template_id")
        if template_id is not None:
            payload["template_id"] = template_id
            personalization["dynamic_template_data"] = {
                "subject": subject,
                **(email.get("dynamic_data") or {}),
            }
        else:
            kind = "text/html" if email.get("html") else "text/plain"
            payload["content"] = [{"type": kind, "value": email.get("body", "")}]
        response = await self._request("POST", "/mail/send", json=payload)
        message_id = response.headers.get("x-message-id")
        if not message_id:
            try:
                data = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                data = None
            if isinstance(data, dict) and data.get("message_id") is not None:
                message_id = str(data["message_id"])
        return EmailResult(message_id=message_id, success=True, status_code=response.status_code)

    async def get_template(self, template_id: str) -> dict[str, Any]:
        """A stored template (``GET /templates/{id}``) as the provider describes it."""
        response = await self._request("GET", f"/templates/{template_id}")
        data = response.json()
        if not isinstance(data, dict):
            raise EmailServiceError("Email service error: template response is not an object")
        return data

    def _backoff(self, exc: Exception) -> bool | float:
        """stamina's hook: retry only what may pass, after the wait the provider asked for."""
        if not isinstance(exc, _RetryableError):
            return False
        return exc.after if exc.after is not None else True

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async for attempt in stamina.retry_context(
                on=self._backoff,
                attempts=self.attempts,
                timeout=None,
                wait_initial=self.wait_initial,
                wait_max=self.wait_max,
                wait_jitter=self.wait_jitter,
            ):
                with attempt:
                    return await self._attempt(method, path, **kwargs)
        except _RetryableError as e:
            raise e.error from e
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    async def _attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError as e:
            error = EmailServiceError(
                f"Email service error: {self.base_url} unreachable ({type(e).__name__}: {e})"
            )
            raise _RetryableError(error) from e
        if response.is_success:
            return response
        status = response.status_code
        error = EmailServiceError(
            f"Email service error: {status} {_reason(response)}",
            status=status,
            retryable=status == 429 or status >= 500,
        )
        if status == 429:
            after = retry_after_seconds(
                response.headers.get("retry-after"), cap=self.retry_after_cap
            )
            raise _RetryableError(error, after)
        if status >= 500:
            raise _RetryableError(error)
        raise error
