"""Times on the wire are RFC 3339 text, as documented; numbers are not read as Unix times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pliers.events.model import EventQuery, NewEvent


@pytest.mark.parametrize("value", [0, 1.5, True, "1700000000", "", "12:00"])
def test_a_time_that_is_not_rfc_3339_text_is_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="RFC 3339"):
        NewEvent.model_validate({"type": "a.b", "aggregateId": "x", "timestamp": value})
    with pytest.raises(ValidationError, match="RFC 3339"):
        EventQuery.model_validate({"timestampRange": {"to": value}})


def test_rfc_3339_text_and_python_datetimes_are_read() -> None:
    event = NewEvent.model_validate(
        {"type": "a.b", "aggregateId": "x", "timestamp": "2026-11-30T13:00:00+01:00"}
    )
    assert event.timestamp == datetime(2026, 11, 30, 12, tzinfo=UTC)
    built = NewEvent(type="a.b", aggregate_id="x", timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    assert built.timestamp is not None
