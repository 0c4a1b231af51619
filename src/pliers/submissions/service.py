"""The Submission Engine: data checked against the form's current version and recorded as an event.

A submission is written in one transaction: the form row is read under a shared lock (so the
form cannot change or be archived until the submission commits), the submission row is stored,
the submission hooks run (the notification outbox is one), and ``submission.created`` is appended
last. Anything that fails along the way rolls all of it back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pliers.errors import (
    FormArchived,
    FormNotFound,
    SubmissionNotFound,
    ValidationError,
)
from pliers.events.model import NewEvent
from pliers.events.service import EventService
from pliers.events.store import EventStore, Transaction
from pliers.forms import validation
from pliers.forms.records import FormRecords, SubmissionRecord, decode_cursor, page
from pliers.forms.service import FormService, check_id, is_id
from pliers.forms.values import storable
from pliers.submissions.export import csv_chunks
from pliers.submissions.model import NewSubmission

#: ``await hook(tx, form, submission)`` with both as the API returns them.
SubmissionHook = Callable[[Transaction, dict[str, Any], dict[str, Any]], Awaitable[None]]
EXPORT_PAGE = 500


class SubmissionService:
    def __init__(
        self,
        store: EventStore,
        records: FormRecords,
        events: EventService,
        forms: FormService,
        hooks: Sequence[SubmissionHook],
    ) -> None:
        self.store = store
        self.records = records
        self.events = events
        self.forms = forms
        #: the runtime's own list, so hooks registered later are called too
        self.hooks = hooks

    async def create(self, request: NewSubmission) -> dict[str, Any]:
        check_id(request.form_id)
        _check_storable(request)
        async with self.store.transaction() as tx:
            form = await self.records.lock_form(tx, request.form_id, exclusive=False)
            if form is None:
                raise FormNotFound(f"form {request.form_id!r} not found")
            if form.status == "archived":
                raise FormArchived(f"form {request.form_id!r} is archived; it takes no submissions")
            validation.check(self.forms.schema(form), request.data)
            submission = SubmissionRecord(
                id=str(uuid.uuid4()),
                form_id=form.id,
                form_version=form.version,
                data=request.data,
                submitted_by=request.submitted_by,
                metadata=request.metadata,
                created_at=datetime.now(UTC),
            )
            await self.records.insert_submission(tx, submission)
            form_wire, submission_wire = form.to_wire(), submission.to_wire()
            for hook in self.hooks:
                await hook(tx, form_wire, submission_wire)
            [result] = await tx.append([_created(submission)])
        await self.events.committed(result.position)
        return submission_wire

    async def get(self, submission_id: str) -> dict[str, Any]:
        found = None
        if is_id(submission_id):
            found = await self.records.get_submission(submission_id)
        if found is None:
            raise SubmissionNotFound(f"submission {submission_id!r} not found")
        return found.to_wire()

    async def list_submissions(
        self, *, form_id: str | None, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        after = decode_cursor(cursor)
        if form_id is not None:
            await self.forms.get(form_id)
        found = await self.records.list_submissions(form_id=form_id, after=after, limit=limit + 1)
        submissions, has_more, next_cursor = page(found, limit)
        return {
            "submissions": [s.to_wire() for s in submissions],
            "hasMore": has_more,
            "nextCursor": next_cursor,
        }

    async def export_csv(self, form_id: str) -> AsyncIterator[str]:
        """The CSV of every submission the form has now; an unknown form fails before any row."""
        form = await self.forms.get(form_id)
        upto = await self.records.last_submission_seq(form_id)
        return csv_chunks(form, self._pages(form_id, upto))

    async def _pages(self, form_id: str, upto: int) -> AsyncIterator[list[SubmissionRecord]]:
        after = 0
        while after < upto:
            found = await self.records.list_submissions(
                form_id=form_id, after=after, limit=EXPORT_PAGE, upto=upto
            )
            if not found:
                return
            yield found
            after = found[-1].seq


def _created(submission: SubmissionRecord) -> NewEvent:
    return NewEvent(
        type="submission.created",
        aggregate_id=submission.id,
        aggregate_type="submission",
        expected_version=0,
        timestamp=submission.created_at,
        payload={
            "submissionId": submission.id,
            "formId": submission.form_id,
            "formVersion": submission.form_version,
            "data": submission.data,
            "submittedBy": submission.submitted_by,
        },
    )


def _check_storable(request: NewSubmission) -> None:
    """``submittedBy`` and ``metadata`` are stored as given; ``data`` is checked by the form."""
    problems = []
    for name, value in (("submittedBy", request.submitted_by), ("metadata", request.metadata)):
        reason = storable(value)
        if reason is not None:
            problems.append({"field": name, "rule": "text", "message": f"{name}: {reason}"})
    if problems:
        fields = ", ".join(p["field"] for p in problems)
        raise ValidationError(f"Submission validation failed: {fields}", details=problems)
