"""The sequence rules of an append, for adapters that apply them in Python.

(The PostgreSQL adapter applies the same rules inside ``pliers_append()`` so that an append is one
round trip; the shared conformance suite keeps the two in step.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pliers.errors import SequenceConflict
from pliers.events.model import NewEvent


def assign_sequences(events: Sequence[NewEvent], heads: Mapping[str, int]) -> list[int]:
    """Sequence numbers for ``events`` given each aggregate's highest stored sequence number.

    Explicit numbers are kept (they only need to be unused); omitted ones continue from the head,
    which includes the events earlier in the same batch. ``expectedVersion`` is checked against the
    head at that point of the batch.
    """
    current = dict(heads)
    assigned: list[int] = []
    for e in events:
        head = current.get(e.aggregate_id, 0)
        if e.expected_version is not None and e.expected_version != head:
            raise SequenceConflict(
                f"sequence conflict: aggregate {e.aggregate_id!r} expected version "
                f"{e.expected_version} but its version is {head}",
                details={
                    "aggregateId": e.aggregate_id,
                    "expectedVersion": e.expected_version,
                    "actualVersion": head,
                },
            )
        seq = e.sequence_number if e.sequence_number is not None else head + 1
        current[e.aggregate_id] = max(head, seq)
        assigned.append(seq)
    return assigned
