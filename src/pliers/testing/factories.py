"""Test data builders: the seed's EventFactory and FormBuilder."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any


class EventFactory:
    """Builds events in the wire form clients send.

    Like the seed's factory, sequence numbers come from one counter shared by every event it
    builds, so they are unique but neither start at 1 nor are contiguous within an aggregate.
    """

    def __init__(self) -> None:
        self._sequence = itertools.count(1)

    def build(self, **overrides: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "type": "test.event",
            "aggregateId": f"aggregate-{uuid.uuid4().hex[:12]}",
            "sequenceNumber": next(self._sequence),
            "timestamp": datetime.now(UTC).isoformat(),
            "metadata": {"source": "pliers.testing"},
            "payload": {},
        }
        event.update(overrides)
        return event

    def build_many(self, count: int, **overrides: Any) -> list[dict[str, Any]]:
        return [self.build(**overrides) for _ in range(count)]
