"""A Python client of the Pliers HTTP API and live stream.

::

    from pliers.client import AsyncPliers

    async with AsyncPliers("http://127.0.0.1:8000", api_key=None) as pliers:
        await pliers.events.publish({"type": "form.created", "aggregateId": "form-1"})
        async for event in pliers.events.stream({"eventTypes": ["form.created"]}, from_position=0):
            print(event.position, event.type)

``Pliers`` is the same client for code without an event loop.
"""

from pliers.api.schemas import (
    ApiKey,
    BatchResult,
    EventPage,
    Form,
    Notification,
    PublishResult,
    StoredEvent,
    Submission,
)
from pliers.client._async import AsyncPliers
from pliers.client._sync import Pliers
from pliers.client.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PliersAPIError,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    StreamError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from pliers.client.stream import EventStream

__all__ = [
    "ApiKey",
    "AsyncPliers",
    "BatchResult",
    "Conflict",
    "EventPage",
    "EventStream",
    "Forbidden",
    "Form",
    "NotFound",
    "Notification",
    "PayloadTooLarge",
    "Pliers",
    "PliersAPIError",
    "PublishResult",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "StoredEvent",
    "StreamError",
    "Submission",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
]
