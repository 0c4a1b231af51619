"""The dispatcher as ``pliers serve`` runs it: started by the runtime, stopped when it closes."""

from __future__ import annotations

import pytest

from pliers.notifications import ConsoleMailer, EmailService
from pliers.testing import MockEmailProvider, running_runtime

from .helpers import all_sent, eventually, form_resource, submit

pytestmark = pytest.mark.integration


async def test_without_an_api_key_mail_goes_to_the_log(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pliers.mail")
    async with running_runtime(database_url, sendgrid_api_key=None) as rt:
        assert rt.dispatcher is not None
        assert rt.notifications is not None
        assert isinstance(rt.dispatcher.mailer, ConsoleMailer)
        await submit(rt, form_resource())
        await eventually(lambda: all_sent(rt.notifications), "logged")
        dispatcher = rt.dispatcher
    assert not dispatcher.running  # closing the runtime stopped it
    logged = [r.getMessage() for r in caplog.records if r.name == "pliers.mail"]
    assert len(logged) == 1
    assert "ops@example.com" in logged[0]
    assert "Subject: New: Ada" in logged[0]


async def test_with_an_api_key_mail_goes_to_the_provider(
    database_url: str, email_provider: MockEmailProvider
) -> None:
    async with running_runtime(
        database_url,
        sendgrid_api_key="live-key",
        sendgrid_base_url=email_provider.base_url,
        mail_from="forms@example.org",
    ) as rt:
        assert rt.dispatcher is not None
        assert isinstance(rt.dispatcher.mailer, EmailService)
        await submit(rt, form_resource())
        await eventually(lambda: all_sent(rt.notifications), "delivered")
    [call] = email_provider.sent
    assert call.headers["authorization"] == "Bearer live-key"
    assert call.json["from"] == {"email": "forms@example.org"}


async def test_dispatcher_can_be_turned_off(database_url: str) -> None:
    async with running_runtime(database_url, dispatcher_enabled=False) as rt:
        assert rt.dispatcher is None
        assert rt.notifications is not None
        assert rt.notifications.hook in rt.submission_hooks
