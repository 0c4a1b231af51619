"""Who is acting, and for which request: set by the HTTP layer, read where events are written.

The web layer sets :data:`current` for the duration of a request (after authentication and after
the request id is known); the services that build events read it, so an event written through the
API records the acting key as ``metadata.actor`` and the request id as its default
``correlationId``. Outside a request (the CLI, the dispatcher, tests calling services directly)
nothing is set and events carry what their caller gave.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

#: ``metadata.actor`` of events written with authentication off.
LOCAL_ACTOR = "local"
#: ``metadata.actor`` of events written through the public (keyless) form routes.
PUBLIC_ACTOR = "public"


def key_id(actor: str | None) -> str | None:
    """The id of the key ``actor`` names; None for no key (``local``, ``public``, none)."""
    if actor is None or actor in (LOCAL_ACTOR, PUBLIC_ACTOR):
        return None
    return actor


@dataclass(frozen=True, slots=True)
class RequestContext:
    #: the request's id (``X-Request-ID``, kept or made), or None outside HTTP
    request_id: str | None = None
    #: the acting key's id, :data:`PUBLIC_ACTOR` or :data:`LOCAL_ACTOR`
    actor: str = LOCAL_ACTOR


current: ContextVar[RequestContext | None] = ContextVar("pliers_request_context", default=None)
