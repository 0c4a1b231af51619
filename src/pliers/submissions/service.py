"""The Submission Engine: data checked against the form's current version and recorded as an event.

Submissions are written in groups: concurrent requests queue up and a writer stores everything
queued in a single transaction. In it, the forms are read under a shared lock (so none can change
or be archived until the group commits), each submission is checked, its row stored and the
submission hooks run (the notification outbox is one), and the ``submission.created`` events of
the group are appended last, in one append. Every append holds the store's ordering lock until
commit, so taking turns would pay one commit per submission; a group pays one for all.

Two writers take groups from the queue, so that one group is checked and written while the other
waits for the database: with one, the process sat idle through each group's round trips.

Each submission still succeeds or fails on its own: a refused submission writes nothing, and if a
hook or the group's append fails the requests are retried one by one, so only the one at fault
fails.

A request may carry an idempotency key (the ``Idempotency-Key`` header), unique per form: sending
it again is answered with the submission stored under it, not stored twice, and a different
submission under a used key is refused. A group holds each key once; a repeat waits for a later
group. When another writer (the other group, another process) stores the same key first, the
unique index refuses this group's insert once that writer has committed, and the group is written
again: the second pass finds the stored submission.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pliers.context import RequestContext, current
from pliers.errors import (
    FormArchived,
    FormNotFound,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    PliersError,
    SubmissionNotFound,
    ValidationError,
)
from pliers.events.model import NewEvent
from pliers.events.service import EventService
from pliers.events.stamping import stamp_request
from pliers.events.store import EventStore, Transaction
from pliers.forms import validation
from pliers.forms.records import FormRecord, FormRecords, SubmissionRecord, decode_cursor, page
from pliers.forms.service import FormService, check_id, is_id
from pliers.forms.values import storable
from pliers.group_commit import GroupCommit
from pliers.submissions.export import csv_chunks, field_columns
from pliers.submissions.model import NewSubmission, Written

#: ``await hook(tx, written)``: called once per group, in its transaction, with every submission
#: the group writes, so that a hook can store what it derives in one statement (the notification
#: outbox is one). Raising rolls the group back; each submission is then written alone, so the
#: failure undoes only the one at fault. Submissions of one form share its resource: read only.
SubmissionHook = Callable[[Transaction, Sequence[Written]], Awaitable[None]]


class Accepted(NamedTuple):
    """A submission as the API returns it; ``created`` is False when a retry found it stored."""

    submission: dict[str, Any]
    created: bool = True


#: One request: what the client sent, and its idempotency key.
Submitted = tuple[NewSubmission, str | None]
#: What became of one request: the stored submission, or why not.
Outcome = Accepted | Exception
EXPORT_PAGE = 500
MAX_GROUP = 100
#: groups in flight at once (each on its own connection)
WRITERS = 2


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
        self._groups: GroupCommit[Submitted, Accepted] = GroupCommit(
            self._write_group, _next_group, writers=WRITERS
        )
        #: the request context of each queued submission (by id of its NewSubmission)
        self._contexts: dict[int, RequestContext | None] = {}

    async def create(
        self, request: NewSubmission, *, idempotency_key: str | None = None
    ) -> Accepted:
        check_id(request.form_id)
        _check_storable(request)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        # a writer task runs in the context of the request that started it, not of each request
        # it writes: remember whose request this is, for its event
        self._contexts[id(request)] = current.get()
        try:
            return await self._groups.submit((request, idempotency_key))
        finally:
            self._contexts.pop(id(request), None)

    async def _write_group(self, requests: list[Submitted]) -> list[Outcome]:
        try:
            try:
                return await self._write(requests)
            except IdempotencyKeyInFlight:
                # the writer that stored the key has committed: a second pass finds its submission
                return await self._write(requests)
        except Exception as e:
            return [e] if len(requests) == 1 else await self._write_one_by_one(requests)

    async def _write_one_by_one(self, requests: list[Submitted]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for request in requests:
            try:
                outcomes.extend(await self._write([request]))
            except Exception as e:
                outcomes.append(e)
        return outcomes

    async def _write(self, requests: list[Submitted]) -> list[Outcome]:
        """Store the acceptable ``requests`` in one transaction; the others get their error."""
        outcomes: list[Outcome | None] = [None] * len(requests)
        written: list[tuple[int, SubmissionRecord, dict[str, Any]]] = []
        keys = sorted({(r.form_id, key) for r, key in requests if key is not None})
        async with self.store.transaction() as tx:
            forms = await self.records.lock_forms(tx, sorted({r.form_id for r, _ in requests}))
            stored = await self.records.submissions_by_key(tx, keys) if keys else {}
            accepted: list[tuple[int, FormRecord, SubmissionRecord]] = []
            for i, (request, key) in enumerate(requests):
                try:
                    earlier = stored.get((request.form_id, key)) if key is not None else None
                    if earlier is not None:
                        outcomes[i] = _replayed(earlier, request)
                        continue
                    form = self._checked(forms.get(request.form_id), request)
                except PliersError as e:
                    outcomes[i] = e
                    continue
                accepted.append((i, form, _record(form, request, key)))
            if accepted:
                await self.records.insert_submissions(tx, [s for _, _, s in accepted])
                written = [(i, s, s.to_wire()) for i, _, s in accepted]
                if self.hooks:
                    await self._run_hooks(tx, accepted, written)
            events = [_created(s, self._contexts.get(id(requests[i][0]))) for i, s, _ in written]
            results = await tx.append(events) if events else []
        if results:
            await self.events.committed(max(r.position for r in results))
        for i, _, wire in written:
            outcomes[i] = Accepted(wire)
        return [o for o in outcomes if o is not None]

    async def _run_hooks(
        self,
        tx: Transaction,
        accepted: list[tuple[int, FormRecord, SubmissionRecord]],
        written: list[tuple[int, SubmissionRecord, dict[str, Any]]],
    ) -> None:
        forms = {form.id: form for _, form, _ in accepted}
        form_wires = {form_id: form.to_wire() for form_id, form in forms.items()}
        mail = {form_id: self.forms.schema(form).notifications for form_id, form in forms.items()}
        group = [
            Written(form_wires[form.id], wire, mail[form.id])
            for (_, form, _), (_, _, wire) in zip(accepted, written, strict=True)
        ]
        for hook in self.hooks:
            await hook(tx, group)

    def _checked(self, form: FormRecord | None, request: NewSubmission) -> FormRecord:
        if form is None:
            raise FormNotFound(f"form {request.form_id!r} not found")
        if form.status == "archived":
            raise FormArchived(f"form {request.form_id!r} is archived; it takes no submissions")
        validation.check(self.forms.schema(form), request.data)
        return form

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
        versions = await self.records.form_versions(form_id)
        upto = await self.records.last_submission_seq(form_id)
        return csv_chunks(field_columns(form, versions), self._pages(form_id, upto))

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


def _next_group(queued: Sequence[Submitted]) -> list[int]:
    """Up to MAX_GROUP queued requests in order, each idempotency key (per form) once."""
    group: list[int] = []
    keys: set[tuple[str, str]] = set()
    for i, (request, key) in enumerate(queued):
        if len(group) == MAX_GROUP:
            break
        if key is not None:
            if (request.form_id, key) in keys:
                continue
            keys.add((request.form_id, key))
        group.append(i)
    return group


def _record(form: FormRecord, request: NewSubmission, key: str | None) -> SubmissionRecord:
    return SubmissionRecord(
        id=str(uuid.uuid4()),
        form_id=form.id,
        form_version=form.version,
        data=request.data,
        submitted_by=request.submitted_by,
        metadata=request.metadata,
        created_at=datetime.now(UTC),
        idempotency_key=key,
    )


def _replayed(stored: SubmissionRecord, request: NewSubmission) -> Accepted:
    """The stored submission for a repeated request; a different one under its key is refused.

    Answered as stored, even when the form has since changed or been archived: the submission
    was accepted when it was first sent.
    """
    if (stored.data, stored.submitted_by, stored.metadata) != (
        request.data,
        request.submitted_by,
        request.metadata,
    ):
        raise IdempotencyKeyReused(
            f"Idempotency-Key {stored.idempotency_key!r} was used for a different submission "
            f"to this form ({stored.id}); use a new key for new data"
        )
    return Accepted(stored.to_wire(), created=False)


def check_idempotency_key(key: str) -> None:
    """A key is 1 to 255 visible ASCII characters (spaces allowed inside)."""
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise ValidationError(
            "Submission validation failed: Idempotency-Key must be 1 to 255 printable ASCII "
            "characters",
            details=[
                {"field": "Idempotency-Key", "rule": "idempotencyKey", "message": "invalid key"}
            ],
        )


def _created(submission: SubmissionRecord, context: RequestContext | None) -> NewEvent:
    # Built from a validated submission: constructing skips validating its data a second time.
    # Every field is given, defaults included: pydantic inspects default factories per call.
    return stamp_request(
        NewEvent.model_construct(
            type="submission.created",
            aggregate_id=submission.id,
            id=None,
            sequence_number=None,
            expected_version=0,
            aggregate_type="submission",
            version=1,
            timestamp=submission.created_at,
            correlation_id=None,
            causation_id=None,
            metadata={},
            payload={
                "submissionId": submission.id,
                "formId": submission.form_id,
                "formVersion": submission.form_version,
                "data": submission.data,
                "submittedBy": submission.submitted_by,
            },
        ),
        context,
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
