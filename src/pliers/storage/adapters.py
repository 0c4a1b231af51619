"""The bundle of one backend's adapters, which the runtime injects into the engines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pliers.events.ownership import OwnedAggregates
    from pliers.events.store import EventStore
    from pliers.forms.records import FormRecords
    from pliers.keys.store import KeyStore
    from pliers.notifications.outbox import OutboxStore


@dataclass(frozen=True, slots=True)
class Adapters:
    """Every adapter of one backend, on the same database. A new port is one field here and one
    line in each backend's ``adapters`` factory."""

    store: EventStore
    forms: FormRecords
    outbox: OutboxStore
    keys: KeyStore
    owned: OwnedAggregates

    async def close(self) -> None:
        """Close the connections the adapters share (they belong to the event store)."""
        await self.store.close()
