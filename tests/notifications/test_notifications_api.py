"""``/v1/notifications``: listing, reading and retrying, with the error envelope for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from pliers.api.app import create_app
from pliers.notifications import EmailService
from pliers.notifications.outbox import NotificationOutbox
from pliers.runtime import Runtime
from pliers.testing import MockEmailProvider, client_for

from .helpers import form_resource, make_dispatcher, submit

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(quiet_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(runtime=quiet_runtime)) as client:
        yield client


async def test_list_by_submission(quiet_runtime: Runtime, api: httpx.AsyncClient) -> None:
    form = form_resource(
        [
            {"type": "email", "to": ["a@example.com"], "subject": "One {{name}}"},
            {"type": "email", "to": ["b@example.com"], "subject": "Two"},
        ]
    )
    mine = await submit(quiet_runtime, form)
    await submit(quiet_runtime, form)  # someone else's

    response = await api.get("/v1/notifications", params={"submissionId": mine["id"]})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["count"] == 2
    listed = body["data"]["notifications"]
    assert {n["subject"] for n in listed} == {"One Ada", "Two"}
    first = listed[0]
    assert first["submissionId"] == mine["id"]
    assert first["formId"] == form["id"]
    assert first["status"] == "queued"
    assert first["attempts"] == 0
    assert first["channel"] == "email"
    assert first["createdAt"].endswith("Z")

    everything = await api.get("/v1/notifications", params={"formId": form["id"]})
    assert everything.json()["data"]["count"] == 4
    queued = await api.get("/v1/notifications", params={"status": "sent"})
    assert queued.json()["data"]["count"] == 0


async def test_get_one_and_unknown_ids(quiet_runtime: Runtime, api: httpx.AsyncClient) -> None:
    submission = await submit(quiet_runtime, form_resource())
    [listed] = (await api.get(f"/v1/notifications?submissionId={submission['id']}")).json()["data"][
        "notifications"
    ]
    one = await api.get(f"/v1/notifications/{listed['id']}")
    assert one.status_code == 200
    assert one.json()["data"] == listed

    missing = await api.get("/v1/notifications/no-such-notification")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOTIFICATION_NOT_FOUND"
    retry_missing = await api.post("/v1/notifications/no-such-notification/retry")
    assert retry_missing.status_code == 404
    assert retry_missing.json()["error"]["code"] == "NOTIFICATION_NOT_FOUND"


async def test_retry_requeues_a_failed_notification_and_refuses_others(
    quiet_runtime: Runtime,
    outbox: NotificationOutbox,
    api: httpx.AsyncClient,
    email_provider: MockEmailProvider,
    email_service: EmailService,
) -> None:
    submission = await submit(quiet_runtime, form_resource())
    [n] = await outbox.list(submission_id=submission["id"])

    not_failed = await api.post(f"/v1/notifications/{n.id}/retry")
    assert not_failed.status_code == 409
    assert not_failed.json()["error"]["code"] == "NOTIFICATION_NOT_FAILED"
    assert "queued" in not_failed.json()["error"]["message"]

    email_provider.fail(400, "Invalid recipient")
    await make_dispatcher(outbox, email_service).drain()
    failed = (await api.get(f"/v1/notifications/{n.id}")).json()["data"]
    assert failed["status"] == "failed"
    assert "Invalid recipient" in failed["lastError"]

    retried = await api.post(f"/v1/notifications/{n.id}/retry")
    assert retried.status_code == 202
    assert retried.json()["data"]["status"] == "queued"
    assert retried.json()["data"]["attempts"] == 0

    email_provider.reset()
    await make_dispatcher(outbox, email_service).drain()
    sent = (await api.get(f"/v1/notifications/{n.id}")).json()["data"]
    assert sent["status"] == "sent"
    assert sent["providerMessageId"]

    again = await api.post(f"/v1/notifications/{n.id}/retry")
    assert again.status_code == 409


@pytest.mark.parametrize(
    "url",
    [
        "/v1/notifications?status=lost",
        "/v1/notifications?limit=0",
        "/v1/notifications?limit=100000",
        "/v1/notifications?limit=ten",
        "/v1/notifications?submissionId=",
        "/v1/notifications?submissionId=has%20space",
        "/v1/notifications?formId=" + "x" * 300,
    ],
)
async def test_bad_queries_are_400_envelopes(api: httpx.AsyncClient, url: str) -> None:
    response = await api.get(url)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/v1/notifications/bad%20id", 400),
        ("POST", "/v1/notifications/bad%20id/retry", 400),
        ("POST", "/v1/notifications/" + "x" * 300 + "/retry", 400),
        ("DELETE", "/v1/notifications/abc", 405),
        ("PUT", "/v1/notifications", 405),
    ],
)
async def test_bad_paths_and_methods_are_4xx_envelopes(
    api: httpx.AsyncClient, method: str, url: str, status: int
) -> None:
    response = await api.request(method, url)
    assert response.status_code == status
    assert response.json()["success"] is False


async def test_retry_with_a_non_json_body_is_415(
    quiet_runtime: Runtime, api: httpx.AsyncClient
) -> None:
    response = await api.post(
        "/v1/notifications/abc/retry", content=b"x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
