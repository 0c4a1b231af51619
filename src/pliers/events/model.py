"""Events as clients send them and as the store returns them.

This module is domain code: it imports no web framework, driver or cache client.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from pliers import cursor as cursors
from pliers.storable import storable

#: Lower-case dotted name with at least two segments: ``form.created``.
TYPE_PATTERN = r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$"
#: Characters allowed in ids that appear in URL paths.
ID_PATTERN = r"^[A-Za-z0-9._:@-]+$"
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1
MAX_BATCH = 1000
MAX_QUERY_LIMIT = 1000

EventType = Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=TYPE_PATTERN)]
AggregateId = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=ID_PATTERN)]
EventId = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]
SequenceNumber = Annotated[StrictInt, Field(ge=0, le=MAX_BIGINT)]
ShortText = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
AggregateType = Annotated[StrictStr, Field(min_length=1, max_length=50, pattern=r"^[^\x00]*$")]


#: The start of an RFC 3339 date-time: ``2026-11-30T``.
_DATE_TIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _rfc3339_text(value: Any) -> Any:
    """Pydantic also reads a number, or a string of digits, as a Unix time; the wire takes RFC
    3339 text only (what the API documents), so a fuzzed ``0`` is a 400, not the year 1970."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _DATE_TIME_START.match(value) is None:
        raise ValueError("a time is an RFC 3339 date-time with an offset: 2026-11-30T12:00:00Z")
    return value


def _storable_time(value: datetime) -> datetime:
    """Refuse a time whose UTC instant is not strictly inside years 1-9999.

    Offsets can push a time past Python's years 1-9999 (OverflowError when converted to UTC, as
    both stores do), and asyncpg writes the very first and very last instants of that range as
    PostgreSQL's -infinity and infinity, which read back as other values. PostgreSQL's own wider
    range is never reached.
    """
    try:
        utc = value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        utc = datetime.min
    if utc in (datetime.min, datetime.max):
        raise ValueError(f"time must lie strictly between {_TIME_RANGE}")
    return value


#: the JSON a fingerprint digests: keys sorted, no spaces, text as it is
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_encoder() -> Callable[[Any], str]:
    """``_CANONICAL.encode``, or the C encoder it calls made once with the same settings.

    ``encode`` makes a new C encoder for each document: half the cost of a fingerprint's small
    document. Without a circular-reference check, which JSON values cannot need.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _CANONICAL.encode
    c = _CANONICAL
    encoder = make(
        None,  # markers: no circular-reference check
        c.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        c.key_separator,
        c.item_separator,
        c.sort_keys,
        c.skipkeys,
        c.allow_nan,
    )
    return lambda value: "".join(encoder(value, 0))


_canonical = _canonical_encoder()
#: a string and an integer as _CANONICAL writes them
_string = json.encoder.encode_basestring
_integer = int.__repr__


#: byte -> byte with a UUID's version (4) and variant (RFC 4122) bits set, for ``translate``
_VERSION_4 = bytes(b & 0x0F | 0x40 for b in range(256))
_RFC_4122 = bytes(b & 0x3F | 0x80 for b in range(256))


def new_event_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs in their text form, as ``str(uuid.uuid4())`` gives,
    from one read of the system's random source and without building ``UUID`` objects: a
    1,000-event batch takes 0.7 ms for its ids, where ``uuid4`` takes 2.5 ms."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_RFC_4122)
    h = raw.hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-"
        f"{h[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


_TIME_RANGE = "0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z"
#: A time with an offset that every store can hold.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_storable_time)]


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown keys are refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class NewEvent(_Wire):
    """An event to append, as a client sends it."""

    type: EventType
    aggregate_id: AggregateId
    id: EventId | None = None
    sequence_number: SequenceNumber | None = None
    expected_version: SequenceNumber | None = None
    aggregate_type: AggregateType | None = None
    version: Annotated[StrictInt, Field(ge=1, le=MAX_INT)] = 1
    timestamp: Timestamp | None = None
    correlation_id: ShortText | None = None
    causation_id: ShortText | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata", "payload")
    @classmethod
    def _storable_text(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_storable(value)
        return value

    @property
    def effective_aggregate_type(self) -> str:
        """``aggregateType``, or the first segment of ``type`` when none was given."""
        return self.aggregate_type or self.type.split(".", 1)[0]

    def fingerprint(self) -> str:
        """A digest of what the client said, so a re-sent event can be told from a different one.

        ``expectedVersion`` is left out on purpose: a retry of a stored event is a duplicate even
        though the aggregate has moved on since.
        """
        # The canonical JSON of an object of the fields below (see _CANONICAL). Its keys are
        # written here in their sorted order and only metadata and payload go through the
        # encoder: sorting and encoding the outer object there cost as much as all the rest.
        text = ['{"aggregateId":', _string(self.aggregate_id)]
        text += (',"aggregateType":', _string(self.effective_aggregate_type))
        if self.causation_id is not None:
            text += (',"causationId":', _string(self.causation_id))
        if self.correlation_id is not None and "correlation_id" in self.__pydantic_fields_set__:
            text += (',"correlationId":', _string(self.correlation_id))
        text += (',"metadata":', _canonical(self.metadata), ',"payload":', _canonical(self.payload))
        if self.sequence_number is not None:
            text += (',"sequenceNumber":', _integer(self.sequence_number))
        if self.timestamp is not None:
            text += (',"timestamp":', _string(format_time(self.timestamp)))
        text += (',"type":', _string(self.type), ',"version":', _integer(self.version), "}")
        return hashlib.sha256("".join(text).encode("utf-8")).hexdigest()

    def stamped(self, actor: str, request_id: str | None) -> NewEvent:
        """This event with ``metadata.actor`` set to ``actor``, and ``request_id`` as its
        ``correlationId`` when it has none: a default the server gave, not the client.

        The correlation id given so stays out of the copy's set fields, so :meth:`fingerprint`
        still digests what the client said: a retry sent with another request id is a duplicate.

        The copy is what ``model_copy(update=...)`` makes (same fields, same set fields, the
        values not validated again), built without its generic copying: a third of the cost, for
        each event of a 1,000-event batch.
        """
        values = self.__dict__.copy()
        values["metadata"] = {**self.metadata, "actor": actor}
        fields_set = self.__pydantic_fields_set__ | _METADATA
        if request_id is not None and self.correlation_id is None:
            values["correlation_id"] = request_id
            fields_set.discard("correlation_id")  # even when the client sent a null
        copy = _new_model(NewEvent)
        _set_attribute(copy, "__dict__", values)
        _set_attribute(copy, "__pydantic_fields_set__", fields_set)
        _set_attribute(copy, "__pydantic_extra__", None)  # extra="forbid": never any
        _set_attribute(copy, "__pydantic_private__", None)  # no private attributes
        return copy


#: the set fields a stamp adds
_METADATA = frozenset({"metadata"})
#: how pydantic itself builds a model without validating (``model_construct``, ``__copy__``)
_new_model = object.__new__
_set_attribute = object.__setattr__


class PublishRequest(_Wire):
    event: NewEvent


class BatchRequest(_Wire):
    events: Annotated[list[NewEvent], Field(min_length=1, max_length=MAX_BATCH)]

    @model_validator(mode="after")
    def _distinct_ids(self) -> BatchRequest:
        seen: set[str] = set()
        for e in self.events:
            if e.id is not None:
                if e.id in seen:
                    raise ValueError(f"event id {e.id!r} appears more than once in the batch")
                seen.add(e.id)
        return self


class TimestampRange(_Wire):
    from_: Timestamp | None = Field(default=None, alias="from")
    to: Timestamp | None = None


class EventQuery(_Wire):
    """Filters for ``POST /v1/events/events/query``; all optional and combined with AND."""

    event_types: list[EventType] | None = None
    exclude_event_types: list[EventType] | None = None
    aggregate_ids: list[AggregateId] | None = None
    aggregate_types: list[AggregateType] | None = None
    correlation_id: ShortText | None = None
    timestamp_range: TimestampRange | None = None
    after_position: SequenceNumber | None = None
    cursor: StrictStr | None = None
    limit: Annotated[StrictInt, Field(ge=1, le=MAX_QUERY_LIMIT)] = 100

    def start_position(self) -> int:
        """The position to read after: the later of ``afterPosition`` and the cursor's."""
        start = self.after_position or 0
        if self.cursor is not None:
            start = max(start, decode_cursor(self.cursor))
        return start


class QueryRequest(_Wire):
    query: EventQuery = Field(default_factory=EventQuery)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store holds it."""

    id: str
    type: str
    aggregate_id: str
    aggregate_type: str
    sequence_number: int
    version: int
    timestamp: datetime
    recorded_at: datetime
    correlation_id: str | None
    causation_id: str | None
    metadata: dict[str, Any]
    payload: dict[str, Any]
    position: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "aggregateId": self.aggregate_id,
            "aggregateType": self.aggregate_type,
            "sequenceNumber": self.sequence_number,
            "version": self.version,
            "timestamp": format_time(self.timestamp),
            "recordedAt": format_time(self.recorded_at),
            "correlationId": self.correlation_id,
            "causationId": self.causation_id,
            "metadata": self.metadata,
            "payload": self.payload,
            "position": self.position,
        }


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append reports back for one event."""

    event_id: str
    sequence_number: int
    position: int
    recorded_at: datetime
    duplicate: bool = False

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "eventId": self.event_id,
            "published": True,
            "sequenceNumber": self.sequence_number,
            "position": self.position,
            "recordedAt": format_time(self.recorded_at),
        }
        if self.duplicate:
            wire["duplicate"] = True
        return wire


@dataclass(frozen=True, slots=True)
class QueryPage:
    events: list[StoredEvent]
    has_more: bool

    @property
    def next_cursor(self) -> str | None:
        if not self.has_more or not self.events:
            return None
        return encode_cursor(self.events[-1].position)

    def to_wire(self) -> dict[str, Any]:
        return {
            "events": [e.to_wire() for e in self.events],
            "hasMore": self.has_more,
            "nextCursor": self.next_cursor,
        }


@dataclass(frozen=True, slots=True)
class QueryPageJSON:
    """A :class:`QueryPage` whose events the database already wrote as a JSON array of their wire
    form: served as it is, without building Python objects and encoding them again."""

    events: str
    has_more: bool
    last_position: int | None

    @property
    def next_cursor(self) -> str | None:
        if not self.has_more or self.last_position is None:
            return None
        return encode_cursor(self.last_position)

    def to_json(self) -> bytes:
        """The page's wire form (see :meth:`QueryPage.to_wire`) as JSON."""
        cursor = self.next_cursor
        return b"".join(
            (
                b'{"events":',
                self.events.encode(),
                b',"hasMore":true' if self.has_more else b',"hasMore":false',
                b',"nextCursor":' + (f'"{cursor}"'.encode() if cursor else b"null"),
                b"}",
            )
        )


def _check_storable(value: Any) -> None:
    """Refuse what no store holds the same way: NUL, unpaired surrogates, NaN and Infinity."""
    reason = storable(value)
    if reason is not None:
        raise ValueError(reason)


@functools.lru_cache(maxsize=1024)
def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-11-25T16:00:00.000000Z``.

    Remembered for the last values: the events of one commit share their ``recordedAt``, which
    the answer to a 1,000-event batch writes 1,000 times."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(value: str) -> datetime:
    """The inverse of :func:`format_time` (accepts any RFC 3339 time with an offset)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def encode_cursor(position: int) -> str:
    return cursors.encode("p", position)


def decode_cursor(value: str) -> int:
    return cursors.decode("p", value, field="query.cursor")
