"""The Event Engine: event rules and the store port."""

from pliers.events.model import (
    AppendResult,
    BatchRequest,
    EventQuery,
    NewEvent,
    PublishRequest,
    QueryPage,
    QueryRequest,
    StoredEvent,
)
from pliers.events.store import EventStore, Transaction

__all__ = [
    "AppendResult",
    "BatchRequest",
    "EventQuery",
    "EventStore",
    "NewEvent",
    "PublishRequest",
    "QueryPage",
    "QueryRequest",
    "StoredEvent",
    "Transaction",
]
