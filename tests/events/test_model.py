"""Event rules that need no database."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError as PydanticValidationError

from pliers.errors import DuplicateEvent, SequenceConflict, ValidationError
from pliers.events.model import (
    EventQuery,
    NewEvent,
    decode_cursor,
    encode_cursor,
    format_time,
    new_event_ids,
)
from pliers.events.sequencing import AppendPlanner, Duplicate, Inspection, StoredRef, ToInsert


def event(aggregate: str = "a", **fields: object) -> NewEvent:
    return NewEvent.model_validate({"type": "test.event", "aggregateId": aggregate, **fields})


@pytest.mark.parametrize(
    "name", ["form.created", "submission.status.changed", "test.event", "a.b", "x1.y_2"]
)
def test_event_type_names_accepted(name: str) -> None:
    assert event(type=name).type == name


@pytest.mark.parametrize("name", ["form", "Form.created", ".a", "a.", "a..b", "a b.c", "1a.b"])
def test_event_type_names_refused(name: str) -> None:
    with pytest.raises(PydanticValidationError):
        event(type=name)


def test_aggregate_type_defaults_to_first_segment() -> None:
    assert event(type="submission.status.changed").effective_aggregate_type == "submission"
    assert event(aggregateType="custom").effective_aggregate_type == "custom"


def test_planner_assigns_an_id_only_when_absent() -> None:
    plan = AppendPlanner(Inspection()).plan([event(id="given"), event()])
    assert isinstance(plan, ToInsert)
    assert plan.rows[0].id == "given"
    assert len(plan.rows[1].id) == 36


def test_event_ids_are_distinct_version_4_uuids_in_text_form() -> None:
    ids = new_event_ids(5000)
    assert len(set(ids)) == 5000
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text
    assert new_event_ids(0) == []


def test_fingerprint_ignores_expected_version_but_not_content() -> None:
    assert event(expectedVersion=3).fingerprint() == event().fingerprint()
    assert event(payload={"a": 1}).fingerprint() != event(payload={"a": 2}).fingerprint()
    assert event(sequenceNumber=1).fingerprint() != event().fingerprint()
    same_instant = event(timestamp="2026-01-01T01:00:00+01:00").fingerprint()
    assert same_instant == event(timestamp="2026-01-01T00:00:00Z").fingerprint()


def sequences(planner: AppendPlanner, events: list[NewEvent]) -> list[int]:
    plan = planner.plan(events)
    assert isinstance(plan, ToInsert)
    return [row.sequence_number for row in plan.rows]


def assign_sequences(events: list[NewEvent], heads: dict[str, int]) -> list[int]:
    return sequences(AppendPlanner(Inspection(heads=heads)), events)


def test_omitted_sequences_continue_from_head_within_a_batch() -> None:
    batch = [event(), event("b"), event(sequenceNumber=10), event(), event(sequenceNumber=2)]
    assert assign_sequences(batch, {"a": 4}) == [5, 1, 10, 11, 2]


def test_expected_version_is_checked_against_the_running_head() -> None:
    assert assign_sequences([event(), event(expectedVersion=1)], {}) == [1, 2]
    with pytest.raises(SequenceConflict, match="expected version 0 but its version is 1"):
        assign_sequences([event(), event(expectedVersion=0)], {})


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for garbage in ("", "!!", encode_cursor(1)[:-1] + "@", "cTotMQ"):
        with pytest.raises(ValidationError):
            decode_cursor(garbage)


def test_query_start_is_the_later_of_cursor_and_after_position() -> None:
    query = EventQuery.model_validate({"afterPosition": 5, "cursor": encode_cursor(9)})
    assert query.start_position() == 9
    assert EventQuery.model_validate({"afterPosition": 5}).start_position() == 5


def test_a_refused_request_leaves_the_group_untouched() -> None:
    """In a group, a request that fails does not consume sequence numbers for later ones."""
    planner = AppendPlanner(Inspection(heads={"a": 1}, used={("a", 1)}))
    assert sequences(planner, [event()]) == [2]
    with pytest.raises(SequenceConflict):
        planner.plan([event(), event(sequenceNumber=1)])  # 3 would be fine, 1 is used
    assert sequences(planner, [event()]) == [3]
    with pytest.raises(SequenceConflict):
        planner.plan([event(sequenceNumber=3)])  # claimed by the request before


def test_requests_in_a_group_see_each_others_ids() -> None:
    planner = AppendPlanner(Inspection())
    sequences(planner, [event(id="x")])
    with pytest.raises(DuplicateEvent):
        planner.plan([event(id="x")])


def test_stored_ids_are_duplicates_only_when_every_event_matches() -> None:
    stored = event(id="s", payload={"v": 1})
    ref = StoredRef(stored.fingerprint(), 1, 10, datetime(2026, 1, 1, tzinfo=UTC))
    planner = AppendPlanner(Inspection(stored={"s": ref}, heads={"a": 1}))
    plan = planner.plan([stored])
    assert isinstance(plan, Duplicate)
    assert plan.stored == [ref]
    with pytest.raises(DuplicateEvent, match="different content"):
        planner.plan([event(id="s", payload={"v": 2})])
    with pytest.raises(DuplicateEvent, match="whole or not at all"):
        planner.plan([stored, event(id="new")])


#: an event whose canonical JSON meets every case of the encoding: text beyond ASCII, control
#: characters and escapes, floats written with an exponent, big integers, keys to sort at depth
TRICKY: dict[str, object] = {
    "type": "form.field-changed",
    "aggregateId": "f:1@x",
    "sequenceNumber": 7,
    "version": 2,
    "timestamp": "2026-11-30T13:00:00.25+01:00",
    "correlationId": "corr-é",
    "causationId": "cause",
    "metadata": {"z": [1, 2], "a": {"y": None, "b": True}},
    "payload": {
        "text": 'é ü 😀 \u2028 \x7f tab\t quote" back\\ slash/ ctrl\x01',
        "floats": [1e16, 0.1, -0.0, 1e-07, 1.5e300, 123456.789, 2.0],
        "ints": [0, -1, 2**63 - 1, 2**70, -(2**80)],
        "nested": {"b": {"d": [], "c": {}}, "a": [{"y": 1, "x": 2}], "B": False, "é": "k"},
    },
}
PLAIN: dict[str, object] = {
    "type": "bench.published",
    "aggregateId": "batch-1",
    "payload": {"formId": "form-1"},
}


@pytest.mark.parametrize("parse", ["json", "python"])
def test_fingerprints_are_the_digests_already_stored(parse: str) -> None:
    """Stored fingerprints decide duplicate or conflict for a re-sent event: the digest of the
    same event never changes, whatever computes it."""

    def fingerprints(raw: dict[str, object]) -> tuple[str, str]:
        e = (
            NewEvent.model_validate_json(json.dumps(raw))
            if parse == "json"
            else NewEvent.model_validate(raw)
        )
        return e.fingerprint(), e.stamped("key-1", "req-1").fingerprint()

    assert fingerprints(TRICKY) == (
        "13c1b7dd9d59ae768832fe0aae816dbb5f4aee1a71bc8fc0956b23d4b3f519ed",
        "d473e8ac6cad729f2049cff534cc24780256b97dd6a05fb1f6effda71d2cbdea",
    )
    assert fingerprints(PLAIN) == (
        "d67f2b5f2beffc6a06140a5d4a9ea04de6714f7b7fbf3a4661c935118925a991",
        "12c6336995fa48d5c231c6c32b0e9025cb9ee8a1bdc9810feabfa20b115a0b52",
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"correlationId": "client"},
        {"correlationId": None},
        {"metadata": {"actor": "forged", "k": [1]}, "causationId": "c"},
        TRICKY,
    ],
)
@pytest.mark.parametrize("request_id", ["req-1", None])
def test_a_stamped_event_is_the_copy_pydantic_makes(
    fields: dict[str, object], request_id: str | None
) -> None:
    """Stamping gives what ``model_copy`` gives (fields, set fields, fingerprint), and leaves the
    event it stamps as it was."""
    given = NewEvent.model_validate_json(json.dumps({**PLAIN, **fields}))
    before = given.model_copy(deep=True)
    update: dict[str, object] = {"metadata": {**given.metadata, "actor": "key-1"}}
    if request_id is not None and given.correlation_id is None:
        update["correlation_id"] = request_id
    expected = given.model_copy(update=update)
    if "correlation_id" in update:
        expected.model_fields_set.discard("correlation_id")

    stamped = given.stamped("key-1", request_id)

    assert type(stamped) is NewEvent
    assert stamped == expected
    assert stamped.model_fields_set == expected.model_fields_set
    assert stamped.model_dump(exclude_unset=True) == expected.model_dump(exclude_unset=True)
    assert stamped.fingerprint() == expected.fingerprint()
    assert stamped.metadata["actor"] == "key-1"
    assert given == before
    assert given.model_fields_set == before.model_fields_set


@pytest.mark.parametrize(
    "payload",
    [
        TRICKY["payload"],
        {"deep": [[[{"b": 1, "a": [0.5, -2.5e-8, 7e22]}]]], "": "", "\x1fk": "\ud7ff\ue000"},
        {"n": 10**30, "f": 1e15, "g": 1e16, "h": 9007199254740993.0, "t": True, "z": None},
    ],
)
@pytest.mark.parametrize(
    "optional",
    [
        {},
        {"aggregateType": "Agg é"},
        {"causationId": "c"},
        {"correlationId": 'k"r'},
        {"sequenceNumber": 2**63 - 1},
        {"timestamp": "2026-11-30T13:00:00+01:00"},
        {
            "causationId": "c",
            "correlationId": "r",
            "sequenceNumber": 3,
            "timestamp": "2026-01-01T00:00:00Z",
        },
    ],
)
def test_a_fingerprint_digests_the_sorted_compact_json_of_the_event(
    payload: dict[str, object], optional: dict[str, object]
) -> None:
    e = event("a", payload=payload, metadata={"m": "é", "a": [1.5]}, version=3, **optional)
    content = {
        "type": "test.event",
        "aggregateId": "a",
        "aggregateType": optional.get("aggregateType", "test"),
        "version": 3,
        "metadata": {"m": "é", "a": [1.5]},
        "payload": payload,
        **{k: v for k, v in optional.items() if k != "aggregateType"},
    }
    if "timestamp" in optional:
        assert e.timestamp is not None
        content["timestamp"] = format_time(e.timestamp)
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert e.fingerprint() == hashlib.sha256(text.encode()).hexdigest()
