"""Fixtures for notification tests: a runtime without a background dispatcher, and submissions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import stamina

from pliers.notifications import EmailService
from pliers.notifications.outbox import NotificationOutbox
from pliers.runtime import Runtime
from pliers.testing import MockEmailProvider, running_runtime


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    """stamina without backoff waits, keeping each service's own attempt count."""
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture
async def quiet_runtime(database_url: str) -> AsyncIterator[Runtime]:
    """A runtime whose outbox fills but that delivers nothing unless a test says so."""
    async with running_runtime(database_url, dispatcher_enabled=False) as rt:
        yield rt


@pytest.fixture
def outbox(quiet_runtime: Runtime) -> NotificationOutbox:
    assert quiet_runtime.notifications is not None
    return quiet_runtime.notifications


@pytest.fixture
async def email_service(email_provider: MockEmailProvider) -> AsyncIterator[EmailService]:
    service = EmailService(api_key="test-api-key", base_url=email_provider.base_url, timeout=5)
    try:
        yield service
    finally:
        await service.aclose()
