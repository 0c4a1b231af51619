"""Messages of ``WS /v1/events/stream`` (README, "Live events").

Client messages are parsed into the models below; every problem becomes a :class:`StreamError`
that the connection sends as ``{"type": "error", "code", "message"}`` and then carries on.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from pliers.errors import InvalidJSON
from pliers.events.model import (
    MAX_BIGINT,
    AggregateId,
    AggregateType,
    EventQuery,
    EventType,
    StoredEvent,
)

#: Values a filter list may hold.
MAX_FILTER_VALUES = 100
SubscriptionId = Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class StreamError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_wire(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message}


class _Message(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class StreamFilter(_Message):
    """Which events a subscription receives; all given lists must match (AND), absent means any."""

    event_types: Annotated[list[EventType], Field(max_length=MAX_FILTER_VALUES)] | None = None
    aggregate_ids: Annotated[list[AggregateId], Field(max_length=MAX_FILTER_VALUES)] | None = None
    aggregate_types: Annotated[list[AggregateType], Field(max_length=MAX_FILTER_VALUES)] | None = (
        None
    )

    def matches(self, event: StoredEvent) -> bool:
        return (
            (self.event_types is None or event.type in self.event_types)
            and (self.aggregate_ids is None or event.aggregate_id in self.aggregate_ids)
            and (self.aggregate_types is None or event.aggregate_type in self.aggregate_types)
        )

    def query(self, after: int, limit: int) -> EventQuery:
        """The store query that reads matching events after position ``after``."""
        return EventQuery(
            event_types=self.event_types,
            aggregate_ids=self.aggregate_ids,
            aggregate_types=self.aggregate_types,
            after_position=after,
            limit=limit,
        )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class Subscribe(_Message):
    type: Literal["subscribe"]
    subscription_id: SubscriptionId | None = None
    filter: StreamFilter = Field(default_factory=StreamFilter)
    from_position: Annotated[StrictInt, Field(ge=0, le=MAX_BIGINT)] | None = None


class Unsubscribe(_Message):
    type: Literal["unsubscribe"]
    subscription_id: SubscriptionId


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Subscribe | Unsubscribe | Ping
_MODELS: dict[str, type[ClientMessage]] = {
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "ping": Ping,
}


def parse(text: str) -> ClientMessage:
    """Parse one client message, or raise :class:`StreamError`."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise StreamError(InvalidJSON.code, f"message is not valid JSON: {e}") from None
    if not isinstance(raw, dict):
        raise StreamError("INVALID_MESSAGE", "a message is a JSON object with a type")
    kind = raw.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(_MODELS)
        raise StreamError("UNKNOWN_TYPE", f"unknown message type {kind!r}; expected one of {known}")
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        in_filter = bool(first["loc"]) and first["loc"][0] == "filter"
        code = "INVALID_FILTER" if in_filter else "INVALID_MESSAGE"
        raise StreamError(code, f"{kind} validation failed at {where}: {first['msg']}") from None


def event_message(subscription_id: str, event_json: str) -> str:
    """An ``event`` message around an already serialized stored event."""
    return f'{{"type":"event","subscriptionId":{json.dumps(subscription_id)},"data":{event_json}}}'


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
