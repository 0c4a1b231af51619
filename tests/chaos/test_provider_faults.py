"""The mail provider failing, rate-limiting and hanging under a running server: each mail is
delivered once, and one hung call delays no other mail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from pliers.api.app import create_app
from pliers.testing import FormBuilder, MockEmailProvider, TestDatabase, running_runtime, serve

pytestmark = pytest.mark.chaos


@pytest.fixture
async def client(
    pliers_db: TestDatabase, email_provider: MockEmailProvider
) -> AsyncIterator[httpx.AsyncClient]:
    settings = {
        "sendgrid_api_key": "chaos-key",
        "sendgrid_base_url": email_provider.base_url,
        "notify_poll_seconds": 0.2,
    }
    async with (
        running_runtime(pliers_db.url, **settings) as rt,
        serve(create_app(runtime=rt)) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
    ):
        yield http


async def new_form(client: httpx.AsyncClient) -> str:
    body = FormBuilder().with_name("Mail").with_text_field("name").with_notification().build()
    return str((await client.post("/v1/forms/forms", json=body)).json()["data"]["id"])


async def submit(client: httpx.AsyncClient, form_id: str, name: str) -> str:
    response = await client.post(
        "/v1/submissions/submissions", json={"formId": form_id, "data": {"name": name}}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def sent_at(client: httpx.AsyncClient, submission_id: str, limit: float = 20) -> float:
    """When the submission's notification was recorded sent (monotonic seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        listed = await client.get("/v1/notifications", params={"submissionId": submission_id})
        found = listed.json()["data"]["notifications"]
        if found and found[0]["status"] == "sent":
            return time.monotonic()
        await asyncio.sleep(0.02)
    raise AssertionError(f"the mail of {submission_id} was not sent within {limit} s")


async def test_a_failing_provider_gets_each_mail_once_after_retries(
    client: httpx.AsyncClient, email_provider: MockEmailProvider
) -> None:
    email_provider.fail(503, "overloaded", times=2)
    form_id = await new_form(client)
    submission_id = await submit(client, form_id, "Ada")
    await sent_at(client, submission_id)
    accepted = len(email_provider.sent) - 2  # the two refused calls
    assert len(email_provider.sent) == 3
    assert accepted == 1


async def test_a_rate_limiting_provider_is_waited_for_and_gets_each_mail_once(
    client: httpx.AsyncClient, email_provider: MockEmailProvider
) -> None:
    email_provider.rate_limit(times=2, retry_after="1")
    form_id = await new_form(client)
    started = time.monotonic()
    submission_id = await submit(client, form_id, "Ada")
    waited = await sent_at(client, submission_id) - started
    calls = [c.at for c in email_provider.sent]
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.9  # Retry-After honoured
    assert calls[2] - calls[1] >= 0.9
    print(f"\nrate-limited twice (Retry-After 1): delivered after {waited:.2f} s, 3 calls")


async def test_one_hung_provider_call_delays_no_other_mail(
    client: httpx.AsyncClient, email_provider: MockEmailProvider
) -> None:
    form_id = await new_form(client)
    email_provider.delay(60)
    await submit(client, form_id, "hung")
    while not email_provider.sent:  # noqa: ASYNC110 -- the call arrives on the provider's socket
        await asyncio.sleep(0.01)
    email_provider.delay(0)  # only the call in progress hangs
    latencies = []
    for n in range(10):
        started = time.monotonic()
        submission_id = await submit(client, form_id, f"after-{n}")
        latencies.append(await sent_at(client, submission_id) - started)
    hung = [c for c in email_provider.sent if c.json and "hung" in str(c.json)]
    print(
        f"\none provider call hung: the next 10 mails each delivered in "
        f"max {max(latencies):.2f} s, median {sorted(latencies)[5]:.2f} s"
    )
    assert len(hung) == 1  # still the one call: nothing retried it meanwhile
    assert max(latencies) < 3.0
    assert len(email_provider.sent) == 11
