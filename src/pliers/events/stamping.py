"""What the server, not the client, says about an event written through the API."""

from __future__ import annotations

from typing import Any

from pliers.context import RequestContext, current
from pliers.events.model import NewEvent

_CURRENT: Any = object()


def stamp_request(event: NewEvent, context: RequestContext | None = _CURRENT) -> NewEvent:
    """``event`` as written by the current request: ``metadata.actor`` is the acting key's id
    (``public``, ``local``), replacing whatever the client put there, and the request id is its
    ``correlationId`` when the client gave none (not part of the event's fingerprint, so a retry
    under another request id is still the same event).

    The one place where a request's context reaches its events; outside a request (the CLI, the
    dispatcher) events are written as given. ``context``: that of another request than the
    current one (a submission written by a group writer).
    """
    if context is _CURRENT:
        context = current.get()
    if context is None:
        return event
    return event.stamped(context.actor, context.request_id)
