"""Picks the read-model adapter of forms and submissions that matches the event store."""

from __future__ import annotations

from pliers.events.store import EventStore
from pliers.forms.records import FormRecords


def form_records(store: EventStore) -> FormRecords:
    """The form and submission read models kept next to ``store``'s events."""
    if store.backend == "postgres":
        from pliers.storage.postgres.events import PostgresEventStore
        from pliers.storage.postgres.forms import PostgresFormRecords

        assert isinstance(store, PostgresEventStore)
        return PostgresFormRecords(store)
    from pliers.storage.sqlite.events import SqliteEventStore
    from pliers.storage.sqlite.forms import SqliteFormRecords

    assert isinstance(store, SqliteEventStore)
    return SqliteFormRecords(store)
