"""Keys as stored and shown, what a client asks for, and who a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel

from pliers.context import LOCAL_ACTOR, PUBLIC_ACTOR
from pliers.events.model import format_time
from pliers.keys.scopes import ALL_SCOPES, Scope

#: ``metadata.actor`` of events written with ``PLIERS_ADMIN_KEY``, which has no row of its own.
ADMIN_ACTOR = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored: never its secret, only the secret's digest."""

    id: str
    name: str
    scopes: tuple[str, ...]
    digest: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "createdAt": format_time(self.created_at),
            "expiresAt": format_time(self.expires_at) if self.expires_at else None,
            "revokedAt": format_time(self.revoked_at) if self.revoked_at else None,
        }


class KeyRequest(BaseModel):
    """``POST /v1/keys``: ``{"name", "scopes", "expiresAt"?}``."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    name: Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]*$")]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(ALL_SCOPES))]
    expires_at: AwareDatetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, and what it may do."""

    #: ``metadata.actor`` of the events it writes: a key id, ``admin``, ``public`` or ``local``
    actor: str
    scopes: frozenset[str]
    #: POSIX time after which the key no longer works; None: never
    expires_at: float | None = None

    def may(self, scope: str) -> bool:
        return scope in self.scopes


#: With authentication off (loopback only), a request may do anything.
LOCAL = Principal(LOCAL_ACTOR, ALL_SCOPES)
ADMIN = Principal(ADMIN_ACTOR, ALL_SCOPES)
#: A request without a key on a public route.
PUBLIC = Principal(PUBLIC_ACTOR, frozenset())
