"""Aggregates the engines own: forms, submissions and notifications change only through them.

A raw event (``POST /v1/events/events``) to such an aggregate would put it in a state its engine
never made (an archived form whose row still says active, say), so it is refused with
:class:`~pliers.errors.AggregateOwned`, whatever the key.

The engines name their aggregates with UUIDs, so only a raw event whose aggregate id is a UUID
can touch one and costs a look-up; the rest (``form-123``, ``order-7``) cost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from pliers.errors import AggregateOwned
from pliers.events.model import NewEvent

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class OwnedAggregates(Protocol):
    """The storage side: which of these ids name a form, a submission or a notification?"""

    async def owned(self, aggregate_ids: Sequence[str]) -> set[str]: ...


async def check_not_owned(owners: OwnedAggregates, events: Sequence[NewEvent]) -> None:
    ids = {e.aggregate_id for e in events}
    candidates = sorted(i for i in ids if len(i) == 36 and _UUID.fullmatch(i))
    if not candidates:
        return
    owned = await owners.owned(candidates)
    if owned:
        first = min(owned)
        raise AggregateOwned(
            f"aggregate {first!r} belongs to an engine (a form, a submission or a notification); "
            "change it through its own routes",
            details={"aggregateIds": sorted(owned)},
        )
