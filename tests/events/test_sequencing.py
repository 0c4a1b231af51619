"""Which appends may be planned without reading the store."""

from __future__ import annotations

import pytest

from pliers.events.model import NewEvent
from pliers.events.sequencing import starts_new_aggregates


def event(aggregate: str, expected: int | None) -> NewEvent:
    return NewEvent(type="test.e", aggregate_id=aggregate, expected_version=expected)


@pytest.mark.parametrize(
    ("requests", "new"),
    [
        ([[event("a", 0)]], True),
        ([[event("a", 0), event("a", None)], [event("b", 0)]], True),
        ([[event("a", 0)], [event("a", 1)]], True),  # a second request builds on the first
        ([[event("a", None)]], False),
        ([[event("a", 0)], [event("b", 3)]], False),
        ([[event("a", 1), event("a", 0)]], False),  # only the first event of each aggregate counts
    ],
)
def test_only_requests_that_expect_each_aggregate_empty_qualify(
    requests: list[list[NewEvent]], new: bool
) -> None:
    assert starts_new_aggregates(requests) is new
