"""From a form with a notification to a delivered mail, through the HTTP API."""

from __future__ import annotations

import httpx
import pytest

from pliers.api.app import create_app
from pliers.notifications import EmailService
from pliers.runtime import Runtime
from pliers.testing import FormBuilder, MockEmailProvider, client_for

from .helpers import all_sent, eventually, make_dispatcher

pytestmark = pytest.mark.integration


async def create_form_and_submit(client: httpx.AsyncClient) -> tuple[str, str]:
    form = (
        FormBuilder()
        .with_name("Registration Form")
        .with_text_field("name", required=True)
        .with_text_field("email", required=True)
        .with_validation([{"field": "email", "type": "email"}])
        .with_notification("ops@example.com", subject="New registration: {{name}}")
        .build()
    )
    created = await client.post("/v1/forms/forms", json=form)
    assert created.status_code == 201, created.text
    form_id = created.json()["data"]["id"]
    submitted = await client.post(
        "/v1/submissions/submissions",
        json={"formId": form_id, "data": {"name": "Ada", "email": "ada@example.com"}},
    )
    assert submitted.status_code == 201, submitted.text
    return form_id, submitted.json()["data"]["id"]


async def test_a_submission_made_while_the_provider_is_down_is_mailed_once_it_returns(
    quiet_runtime: Runtime, email_provider: MockEmailProvider, email_service: EmailService
) -> None:
    assert quiet_runtime.notifications is not None
    await email_provider.down()
    async with client_for(create_app(runtime=quiet_runtime)) as client:
        _, submission_id = await create_form_and_submit(client)

        listed = await client.get("/v1/notifications", params={"submissionId": submission_id})
        [queued] = listed.json()["data"]["notifications"]
        assert queued["status"] == "queued"

        dispatcher = make_dispatcher(quiet_runtime.notifications, email_service, max_attempts=50)
        dispatcher.start()
        try:
            await eventually(
                lambda: _attempted(client, submission_id), "a delivery attempt while down"
            )
            await email_provider.up()
            await eventually(lambda: all_sent(quiet_runtime.notifications), "delivered")
        finally:
            await dispatcher.stop()

        [mail] = email_provider.sent
        assert mail.json["subject"] == "New registration: Ada"
        assert mail.json["personalizations"][0]["to"] == [{"email": "ops@example.com"}]

        notification_id = queued["id"]
        events = await client.get(f"/v1/events/events/aggregates/{notification_id}")
        assert [e["type"] for e in events.json()["data"]["events"]][-1] == "notification.sent"
        on_submission = await client.get(f"/v1/events/events/aggregates/{submission_id}")
        assert [e["type"] for e in on_submission.json()["data"]["events"]] == ["submission.created"]


async def _attempted(client: httpx.AsyncClient, submission_id: str) -> bool:
    listed = await client.get("/v1/notifications", params={"submissionId": submission_id})
    return bool(listed.json()["data"]["notifications"][0]["attempts"] >= 1)
