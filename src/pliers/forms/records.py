"""The read models of forms and submissions, and the port their storage adapters implement.

The tables are projections kept in the same transaction as the events they follow
(``form.created``, ``form.updated``, ``form.archived``, ``submission.created``), so they are never
behind the event store or ahead of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pliers import cursor as cursors
from pliers.events.model import format_time
from pliers.events.store import Transaction

FormStatus = Literal["active", "archived"]
#: what a respondent sees of a form (:meth:`FormRecord.to_public`), in wire names
PUBLIC_KEYS = ("id", "name", "description", "fields", "validation", "version")


@dataclass(frozen=True, slots=True)
class FormRecord:
    """One version of a form, with the form's status."""

    id: str
    name: str
    description: str | None
    #: ``{fields, validation, notifications}`` as the client gave them (after checking), and
    #: ``public`` and ``allowedOrigins`` when given
    body: dict[str, Any]
    version: int
    status: FormStatus
    created_at: datetime
    #: when this version was made (for the current version: when the form last changed)
    updated_at: datetime
    #: highest sequence number this engine wrote to the form's aggregate
    event_sequence: int
    #: listing order (assigned by the store)
    seq: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "fields": self.body["fields"],
            "validation": self.body["validation"],
            "notifications": self.body["notifications"],
            "public": self.body.get("public", False),
            "allowedOrigins": self.body.get("allowedOrigins", []),
            "version": self.version,
            "status": self.status,
            "createdAt": format_time(self.created_at),
            "updatedAt": format_time(self.updated_at),
        }

    def to_public(self) -> dict[str, Any]:
        """What a respondent needs to render and fill in the form, and nothing else: no
        notification recipients, origins or other settings of its owner."""
        wire = self.to_wire()
        return {key: wire[key] for key in PUBLIC_KEYS}

    def to_cache(self) -> dict[str, Any]:
        """Everything the record holds, as JSON (for a cache; see :meth:`from_cache`)."""
        return {
            **self.to_wire(),
            "body": self.body,
            "eventSequence": self.event_sequence,
            "seq": self.seq,
        }

    @classmethod
    def from_cache(cls, value: dict[str, Any]) -> FormRecord:
        return cls(
            id=value["id"],
            name=value["name"],
            description=value["description"],
            body=value["body"],
            version=value["version"],
            status=value["status"],
            created_at=datetime.fromisoformat(value["createdAt"]),
            updated_at=datetime.fromisoformat(value["updatedAt"]),
            event_sequence=value["eventSequence"],
            seq=value["seq"],
        )


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    id: str
    form_id: str
    form_version: int
    data: dict[str, Any]
    submitted_by: str | None
    metadata: dict[str, Any]
    created_at: datetime
    status: str = "submitted"
    seq: int = 0
    #: the client's ``Idempotency-Key``, unique per form; not part of the resource
    idempotency_key: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "formId": self.form_id,
            "formVersion": self.form_version,
            "data": self.data,
            "submittedBy": self.submitted_by,
            "metadata": self.metadata,
            "status": self.status,
            "createdAt": format_time(self.created_at),
        }


class FormRecords(Protocol):
    """Storage of the form and submission read models (one adapter per store backend).

    Methods taking ``tx`` write (or lock) inside that transaction; the others read committed data.
    """

    async def insert_form(self, tx: Transaction, form: FormRecord) -> None:
        """Store a new form and its first version."""
        ...

    async def update_form(self, tx: Transaction, form: FormRecord, *, new_version: bool) -> None:
        """Replace the form's current state; with ``new_version``, also store that version."""
        ...

    async def lock_form(
        self, tx: Transaction, form_id: str, *, exclusive: bool
    ) -> FormRecord | None:
        """The current form, locked until ``tx`` ends: shared (submissions) or exclusive."""
        ...

    async def lock_forms(self, tx: Transaction, form_ids: Sequence[str]) -> dict[str, FormRecord]:
        """The current forms among ``form_ids``, each under a shared lock until ``tx`` ends."""
        ...

    async def insert_submissions(
        self, tx: Transaction, submissions: Sequence[SubmissionRecord]
    ) -> None: ...

    async def submissions_by_key(
        self, tx: Transaction, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SubmissionRecord]:
        """The stored submissions among ``(form_id, idempotency_key)`` pairs, by pair."""
        ...

    async def get_form(self, form_id: str, version: int | None = None) -> FormRecord | None: ...

    async def form_generation(self, form_id: str) -> int | None:
        """A number every write to the form raises (None for an unknown form): a cached copy
        of the form, or of one of its versions, is current while its generation is this one."""
        ...

    async def form_versions(self, form_id: str) -> list[FormRecord]:
        """Every version of the form, oldest first; empty for an unknown form."""
        ...

    async def list_forms(
        self, *, after: int, limit: int, status: FormStatus | None = None
    ) -> list[FormRecord]:
        """Forms in creation order, after the listing position ``after``."""
        ...

    async def get_submission(self, submission_id: str) -> SubmissionRecord | None: ...

    async def list_submissions(
        self, *, form_id: str | None, after: int, limit: int, upto: int | None = None
    ) -> list[SubmissionRecord]:
        """Submissions in creation order with ``after < seq <= upto``."""
        ...

    async def last_submission_seq(self, form_id: str) -> int:
        """The listing position of the form's latest submission (0 when it has none)."""
        ...


def encode_cursor(seq: int) -> str:
    return cursors.encode("r", seq)


def decode_cursor(value: str | None) -> int:
    """The listing position a cursor stands for (0 for none); a cursor this server did not issue
    is a 400."""
    return 0 if value is None else cursors.decode("r", value)


def page(records: list[Any], limit: int) -> tuple[list[Any], bool, str | None]:
    """Split ``limit + 1`` fetched records into the page, ``hasMore`` and ``nextCursor``."""
    shown = records[:limit]
    has_more = len(records) > limit
    return shown, has_more, encode_cursor(shown[-1].seq) if has_more and shown else None
