"""EmailService against the mock SendGrid server (and respx where a unit test is simpler)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
import stamina

from pliers.errors import EmailServiceError, PliersError
from pliers.notifications import ConsoleMailer, EmailService
from pliers.notifications.sendgrid import retry_after_seconds
from pliers.testing import MockEmailProvider

EMAIL: dict[str, Any] = {
    "to": "test@example.com",
    "subject": "Test Email",
    "body": "This is a test email",
}


async def test_success_returns_header_message_id_and_sends_sendgrid_json(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    """202 with X-Message-Id: the id comes back; the request is SendGrid v3 with a bearer key."""
    email_provider.succeed("test-message-id-123")
    result = await email_service.send_email(**EMAIL)

    assert result.success is True
    assert result.message_id == "test-message-id-123"
    [call] = email_provider.calls
    assert call.method == "POST"
    assert call.path == "/mail/send"
    assert call.headers["authorization"] == "Bearer test-api-key"
    assert call.json == {
        "personalizations": [{"to": [{"email": "test@example.com"}], "subject": "Test Email"}],
        "from": {"email": "notifications@pliers.local"},
        "subject": "Test Email",
        "content": [{"type": "text/plain", "value": "This is a test email"}],
    }


async def test_success_reads_message_id_from_the_body(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    email_provider.message_id_in = "body"
    email_provider.succeed("body-id-7")
    result = await email_service.send_email(**EMAIL)
    assert result.message_id == "body-id-7"


async def test_template_and_html_shape_the_message(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    """A template id replaces the content with dynamic data; html switches the content type."""
    await email_service.send_email(
        to=["a@example.com", "b@example.com"],
        subject="S",
        template_id="template-123",
        dynamic_data={"name": "Ada"},
    )
    await email_service.send_email(to="c@example.com", subject="S", body="<b>x</b>", html=True)
    templated, html = (c.json for c in email_provider.calls)
    assert templated["template_id"] == "template-123"
    assert "content" not in templated
    assert templated["personalizations"][0]["to"] == [
        {"email": "a@example.com"},
        {"email": "b@example.com"},
    ]
    assert templated["personalizations"][0]["dynamic_template_data"] == {
        "subject": "S",
        "name": "Ada",
    }
    assert html["content"] == [{"type": "text/html", "value": "<b>x</b>"}]


async def test_mail_from_comes_from_the_constructor(email_provider: MockEmailProvider) -> None:
    async with EmailService(
        api_key="k", base_url=email_provider.base_url, mail_from="forms@example.org"
    ) as service:
        await service.send_email(**EMAIL)
    assert email_provider.calls[0].json["from"] == {"email": "forms@example.org"}


async def test_500_every_time_gives_up_after_three_calls(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    email_provider.fail(500, "Internal server error")
    with pytest.raises(EmailServiceError, match="Email service error") as caught:
        await email_service.send_email(**EMAIL)
    assert len(email_provider.calls) == 3
    assert "Internal server error" in str(caught.value)
    assert isinstance(caught.value, PliersError)
    assert caught.value.status_code == 502
    assert caught.value.code == "EMAIL_SERVICE_ERROR"
    assert caught.value.retryable is True


async def test_attempts_are_configurable(email_provider: MockEmailProvider) -> None:
    email_provider.fail(503, "busy")
    async with EmailService(api_key="k", base_url=email_provider.base_url, attempts=5) as service:
        with pytest.raises(EmailServiceError, match="busy"):
            await service.send_email(**EMAIL)
    assert len(email_provider.calls) == 5


async def test_two_rate_limits_then_success_takes_three_calls(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    email_provider.rate_limit(times=2, retry_after="1")
    email_provider.succeed("retry-success-123")
    result = await email_service.send_email(**EMAIL)
    assert len(email_provider.calls) == 3
    assert result.message_id == "retry-success-123"


async def test_400_is_not_retried(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    email_provider.fail(400, "The to field is required")
    with pytest.raises(EmailServiceError, match="The to field is required") as caught:
        await email_service.send_email(**EMAIL)
    assert len(email_provider.calls) == 1
    assert caught.value.retryable is False
    assert caught.value.status == 400


async def test_retry_after_is_honoured(email_provider: MockEmailProvider) -> None:
    """The retry after a 429 with Retry-After: 1 comes about a second later, not at once."""
    email_provider.rate_limit(times=1, retry_after="1")
    with stamina.set_testing(False):
        async with EmailService(
            api_key="k", base_url=email_provider.base_url, wait_initial=0.0, wait_jitter=0.0
        ) as service:
            await service.send_email(**EMAIL)
    first, second = email_provider.calls
    assert 0.9 <= second.at - first.at < 3.0


async def test_retry_after_is_capped(email_provider: MockEmailProvider) -> None:
    """A provider asking for an hour is waited on only up to the cap."""
    email_provider.rate_limit(times=1, retry_after="3600")
    with stamina.set_testing(False):
        async with EmailService(
            api_key="k", base_url=email_provider.base_url, retry_after_cap=0.2
        ) as service:
            await service.send_email(**EMAIL)
    first, second = email_provider.calls
    assert second.at - first.at < 1.5


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    in_ten = format_datetime(now + timedelta(seconds=10), usegmt=True)
    assert retry_after_seconds("7", cap=60) == 7
    assert retry_after_seconds(in_ten, cap=60, now=now) == pytest.approx(10)
    assert retry_after_seconds(in_ten, cap=3, now=now) == 3
    assert retry_after_seconds("yesterday-ish", cap=60) is None
    assert retry_after_seconds(None, cap=60) is None
    assert retry_after_seconds("-5", cap=60) == 0


async def test_provider_down_is_retried_then_reported(email_provider: MockEmailProvider) -> None:
    """Connection refused three times ends in EmailServiceError naming the network failure."""
    await email_provider.down()
    async with EmailService(api_key="k", base_url=email_provider.base_url) as service:
        with pytest.raises(EmailServiceError, match=r"Email service error.*unreachable"):
            await service.send_email(**EMAIL)


async def test_network_errors_then_success_counts_attempts() -> None:
    """Two transport errors then 202: three requests, the 202's id (respx, no socket)."""
    with respx.mock(base_url="https://api.sendgrid.test/v3") as router:
        route = router.post("/mail/send").mock(
            side_effect=[
                httpx.ConnectError("refused"),
                httpx.ReadTimeout("slow"),
                httpx.Response(202, headers={"X-Message-Id": "after-network"}),
            ]
        )
        async with EmailService(api_key="k", base_url="https://api.sendgrid.test/v3") as service:
            result = await service.send_email(**EMAIL)
    assert route.call_count == 3
    assert result.message_id == "after-network"


async def test_error_reason_without_sendgrid_body() -> None:
    with respx.mock(base_url="https://api.sendgrid.test/v3") as router:
        router.post("/mail/send").mock(return_value=httpx.Response(403, text="forbidden key"))
        async with EmailService(api_key="k", base_url="https://api.sendgrid.test/v3") as service:
            with pytest.raises(EmailServiceError, match="Email service error: 403 forbidden key"):
                await service.send_email(**EMAIL)


async def test_no_recipients_is_refused_without_a_call(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    with pytest.raises(EmailServiceError, match="no recipients"):
        await email_service.send_email(to=[], subject="S", body="B")
    assert email_provider.calls == []


async def test_get_template(email_provider: MockEmailProvider, email_service: EmailService) -> None:
    template = await email_service.get_template("template-123")
    assert template == {"id": "template-123", "name": "Test Template", "subject": "Test Subject"}
    assert email_provider.calls[0].path == "/templates/template-123"
    assert email_provider.calls[0].headers["authorization"] == "Bearer test-api-key"


async def test_delay_and_reset(
    email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    """A delayed provider still answers; reset forgets calls and scripted failures."""
    email_provider.fail(500)
    email_provider.delay(0.05)
    email_provider.reset()
    result = await email_service.send_email(**EMAIL)
    assert result.success
    assert len(email_provider.calls) == 1


async def test_console_mailer_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pliers.mail")
    result = await ConsoleMailer().send_email(to=["ops@example.com"], subject="Hi", body="Body!")
    assert result.success
    assert result.message_id is not None
    assert result.message_id.startswith("console-")
    [record] = [r for r in caplog.records if r.name == "pliers.mail"]
    assert "ops@example.com" in record.getMessage()
    assert "Subject: Hi" in record.getMessage()
    assert "Body!" in record.getMessage()
