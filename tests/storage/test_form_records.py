"""The form and submission read-model port, run against every adapter (PostgreSQL and SQLite)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pliers.events.model import NewEvent
from pliers.forms.records import FormRecord, FormRecords, SubmissionRecord
from pliers.runtime import Runtime

pytestmark = pytest.mark.integration

BODY = {"fields": [{"name": "a", "type": "text"}], "validation": [], "notifications": []}


@pytest.fixture
def records(runtime: Runtime) -> FormRecords:
    return runtime.forms.records


def a_form(**changes: Any) -> FormRecord:
    now = datetime(2026, 11, 25, 16, 0, 0, 123456, tzinfo=UTC)
    form = FormRecord(
        id=str(uuid.uuid4()),
        name="Form",
        description="ünïcödé",
        body=BODY,
        version=1,
        status="active",
        created_at=now,
        updated_at=now,
        event_sequence=1,
    )
    return replace(form, **changes)


def a_submission(form: FormRecord, n: int) -> SubmissionRecord:
    return SubmissionRecord(
        id=str(uuid.uuid4()),
        form_id=form.id,
        form_version=form.version,
        data={"a": f"answer {n}", "nested": [1, {"x": None}]},
        submitted_by=None if n % 2 else f"user-{n}",
        metadata={"n": n},
        created_at=form.created_at + timedelta(seconds=n),
    )


async def test_forms_round_trip_with_their_versions(runtime: Runtime, records: FormRecords) -> None:
    form = a_form()
    assert await records.form_generation(form.id) is None
    async with runtime.store.transaction() as tx:
        await records.insert_form(tx, form)
    stored = await records.get_form(form.id)
    assert stored is not None
    assert replace(stored, seq=0) == form
    assert stored.seq > 0
    assert await records.form_generation(form.id) == 1

    later = form.updated_at + timedelta(minutes=5)
    v2 = replace(
        form,
        name="Form v2",
        body={**BODY, "validation": [{"field": "a", "type": "email"}]},
        version=2,
        updated_at=later,
        event_sequence=2,
    )
    async with runtime.store.transaction() as tx:
        locked = await records.lock_form(tx, form.id, exclusive=True)
        assert locked == stored
        await records.update_form(tx, v2, new_version=True)
    archived = replace(v2, status="archived", event_sequence=3)
    async with runtime.store.transaction() as tx:
        await records.update_form(tx, archived, new_version=False)

    current = await records.get_form(form.id)
    assert current is not None
    assert replace(current, seq=0) == archived
    assert await records.form_generation(form.id) == 3  # raised by every write, archiving too
    first = await records.get_form(form.id, version=1)
    assert first is not None
    assert (first.name, first.version, first.body, first.status) == ("Form", 1, BODY, "archived")
    assert first.updated_at == form.updated_at
    assert await records.get_form(form.id, version=3) is None
    assert await records.get_form("missing") is None
    versions = await records.form_versions(form.id)
    assert [(v.version, v.name, v.body) for v in versions] == [
        (1, "Form", BODY),
        (2, "Form v2", v2.body),
    ]
    assert versions[0] == first
    assert await records.form_versions("missing") == []


async def test_writes_roll_back_with_their_transaction(
    runtime: Runtime, records: FormRecords
) -> None:
    form = a_form()

    async def abandoned() -> None:
        async with runtime.store.transaction() as tx:
            await records.insert_form(tx, form)
            await tx.append([NewEvent(type="form.created", aggregate_id=form.id)])
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError, match="abandon"):
        await abandoned()
    assert await records.get_form(form.id) is None
    assert await runtime.store.read_aggregate(form.id) == []


async def test_listing_forms_and_submissions_in_order(
    runtime: Runtime, records: FormRecords
) -> None:
    forms = [a_form(name=f"F{i}") for i in range(3)]
    async with runtime.store.transaction() as tx:
        for f in forms:
            await records.insert_form(tx, f)
        await records.update_form(tx, replace(forms[1], status="archived"), new_version=False)
        await records.insert_submissions(tx, [a_submission(forms[n % 2], n) for n in range(7)])

    listed = await records.list_forms(after=0, limit=10)
    assert [f.name for f in listed] == ["F0", "F1", "F2"]
    after_first = await records.list_forms(after=listed[0].seq, limit=1)
    assert [f.name for f in after_first] == ["F1"]
    archived = await records.list_forms(after=0, limit=10, status="archived")
    assert [f.name for f in archived] == ["F1"]

    of_first = await records.list_submissions(form_id=forms[0].id, after=0, limit=100)
    assert [s.metadata["n"] for s in of_first] == [0, 2, 4, 6]
    assert of_first[0].data == {"a": "answer 0", "nested": [1, {"x": None}]}
    assert of_first[0].submitted_by == "user-0"
    assert of_first[0].created_at == forms[0].created_at
    upto = of_first[2].seq
    bounded = await records.list_submissions(
        form_id=forms[0].id, after=of_first[0].seq, limit=100, upto=upto
    )
    assert [s.metadata["n"] for s in bounded] == [2, 4]
    everything = await records.list_submissions(form_id=None, after=0, limit=5)
    assert [s.metadata["n"] for s in everything] == [0, 1, 2, 3, 4]
    assert await records.last_submission_seq(forms[0].id) == of_first[-1].seq
    assert await records.last_submission_seq(forms[2].id) == 0
    one = await records.get_submission(of_first[1].id)
    assert one == of_first[1]
    assert await records.get_submission("missing") is None


async def test_lock_forms_and_rollback(runtime: Runtime, records: FormRecords) -> None:
    forms = [a_form(name=f"F{i}") for i in range(2)]
    async with runtime.store.transaction() as tx:
        for f in forms:
            await records.insert_form(tx, f)
    kept, undone = a_submission(forms[0], 1), a_submission(forms[0], 2)
    async with runtime.store.transaction() as tx:
        locked = await records.lock_forms(tx, [forms[1].id, "missing", forms[0].id])
        assert {k: v.name for k, v in locked.items()} == {forms[0].id: "F0", forms[1].id: "F1"}
        await records.insert_submissions(tx, [kept])

    async def fails_after_writing() -> None:
        async with runtime.store.transaction() as tx:
            await records.insert_submissions(tx, [undone])
            raise RuntimeError("undo me")

    with pytest.raises(RuntimeError, match="undo me"):
        await fails_after_writing()
    assert await records.get_submission(kept.id) == replace(
        kept, seq=(await records.last_submission_seq(forms[0].id))
    )
    assert await records.get_submission(undone.id) is None
