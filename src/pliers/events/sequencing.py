"""The rules of an append, decided in Python for every storage adapter.

An adapter takes its write lock, inspects what is stored for the ids, aggregates and explicit
sequence numbers of the pending requests (:class:`Inspection`), lets an :class:`AppendPlanner`
decide each request in order, inserts what was accepted, and commits. Several independent requests
may be planned against one inspection (group commit): each succeeds or fails on its own, and a
failed one leaves no trace in the planner's state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pliers.errors import DuplicateEvent, SequenceConflict
from pliers.events.model import MAX_BIGINT, NewEvent, new_event_ids


@dataclass(frozen=True, slots=True)
class StoredRef:
    """What an append needs to know about an event id that is already stored."""

    fingerprint: str | None
    sequence_number: int
    position: int
    recorded_at: datetime


@dataclass(slots=True)
class Inspection:
    """The stored facts relevant to a set of pending appends."""

    stored: dict[str, StoredRef] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    used: set[tuple[str, int]] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Row:
    """An accepted event, ready to insert, with the values the store fills in."""

    event: NewEvent
    id: str
    aggregate_type: str
    sequence_number: int
    fingerprint: str


@dataclass(frozen=True, slots=True)
class ToInsert:
    """The rows a request adds: none of its events is stored yet."""

    rows: list[Row]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Every event of the request is already stored with identical content."""

    stored: list[StoredRef]
    ids: list[str]


def lookups(
    requests: Iterable[Sequence[NewEvent]],
) -> tuple[list[str], list[str], list[tuple[str, int]]]:
    """Ids, aggregate ids and explicit (aggregate, sequence) pairs an inspection must cover."""
    ids: set[str] = set()
    aggregates: set[str] = set()
    explicit: set[tuple[str, int]] = set()
    for events in requests:
        for e in events:
            if e.id is not None:
                ids.add(e.id)
            aggregates.add(e.aggregate_id)
            if e.sequence_number is not None:
                explicit.add((e.aggregate_id, e.sequence_number))
    return sorted(ids), sorted(aggregates), sorted(explicit)


def starts_new_aggregates(requests: Iterable[Sequence[NewEvent]]) -> bool:
    """Does the first event for each aggregate of ``requests`` expect version 0?

    Such requests can be planned against an empty :class:`Inspection` without reading the store:
    the plan is the one a real inspection gives whenever none of their aggregates and ids is
    stored, and the adapter must check that before inserting.
    """
    seen: set[str] = set()
    for events in requests:
        for e in events:
            if e.aggregate_id not in seen:
                if e.expected_version != 0:
                    return False
                seen.add(e.aggregate_id)
    return True


def next_group(queued: Sequence[Sequence[NewEvent]], max_events: int) -> list[int]:
    """The queued requests (by index) that form the next group: up to ``max_events`` events, in
    order (a :data:`pliers.group_commit.Pick`).

    A request repeating an id of an earlier request in the group (a client retrying quickly)
    waits for the next group, where it meets the stored event and is answered as a duplicate.
    """
    group: list[int] = []
    ids: set[str] = set()
    size = 0
    for i, events in enumerate(queued):
        request_ids = {e.id for e in events if e.id is not None}
        fits = not group or size + len(events) <= max_events
        if fits and not (request_ids & ids):
            group.append(i)
            size += len(events)
            ids |= request_ids
    return group


class AppendPlanner:
    def __init__(self, inspection: Inspection) -> None:
        self._stored = inspection.stored
        self._heads = dict(inspection.heads)
        self._used = set(inspection.used)
        self._pending: dict[str, str] = {}  # id -> fingerprint, accepted earlier in this group

    def plan(self, events: Sequence[NewEvent]) -> ToInsert | Duplicate:
        """Decide one request; raises :class:`SequenceConflict` or :class:`DuplicateEvent`."""
        fingerprints = [e.fingerprint() for e in events]
        known = [e.id for e in events if e.id in self._stored or e.id in self._pending]
        if known:
            return self._duplicate(events, fingerprints, known)

        heads: dict[str, int] = {}  # this request's, over the group's (kept if it is accepted)
        claimed: set[tuple[str, int]] = set()
        rows: list[Row] = []
        ids = iter(new_event_ids(sum(e.id is None for e in events)))
        for e, fp in zip(events, fingerprints, strict=True):
            head = heads.get(e.aggregate_id)
            if head is None:
                head = self._heads.get(e.aggregate_id, 0)
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
            if seq > MAX_BIGINT:  # the aggregate already holds the highest number both stores take
                raise SequenceConflict(
                    f"sequence conflict: aggregate {e.aggregate_id!r} has used its last sequence "
                    f"number ({MAX_BIGINT})",
                    details={"aggregateId": e.aggregate_id, "sequenceNumber": seq},
                )
            key = (e.aggregate_id, seq)
            if key in self._used or key in claimed:
                raise SequenceConflict(
                    f"sequence conflict: sequence number {seq} is already used in aggregate "
                    f"{e.aggregate_id!r}",
                    details={"aggregateId": e.aggregate_id, "sequenceNumber": seq},
                )
            claimed.add(key)
            heads[e.aggregate_id] = max(head, seq)
            rows.append(Row(e, e.id or next(ids), e.effective_aggregate_type, seq, fp))

        self._heads.update(heads)
        self._used |= claimed
        self._pending.update((r.id, r.fingerprint) for r in rows)
        return ToInsert(rows)

    def _duplicate(
        self, events: Sequence[NewEvent], fingerprints: list[str], known: Sequence[str | None]
    ) -> Duplicate:
        identical = len(known) == len(events) and all(
            e.id in self._stored and self._stored[e.id].fingerprint == fp
            for e, fp in zip(events, fingerprints, strict=True)
        )
        if not identical:
            listed = ", ".join(repr(i) for i in known)
            raise DuplicateEvent(
                f"event id {listed} is already stored with different content"
                if len(known) == len(events)
                else f"event id {listed} is already stored; a batch is stored whole or not at all"
            )
        ids = [e.id for e in events if e.id]
        return Duplicate([self._stored[i] for i in ids], ids)
