"""The Form Engine: forms are created, replaced and archived as events on the form's aggregate.

Every change writes the read model and appends its event in one transaction, the append last
(it takes the store's ordering lock until commit) and with ``expectedVersion``, so a writer that
raced another one on the same aggregate fails instead of interleaving.
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pliers.cache import Cache, cached
from pliers.errors import FormArchived, FormNotFound, ValidationError, VersionConflict
from pliers.events.model import ID_PATTERN, NewEvent
from pliers.events.service import EventService
from pliers.events.stamping import stamp_request
from pliers.events.store import EventStore
from pliers.forms.definition import FormDefinition, Schema, parse_definition, schema_of
from pliers.forms.records import FormRecord, FormRecords, FormStatus, decode_cursor, page

_ID = re.compile(ID_PATTERN)
SCHEMA_CACHE_SIZE = 1024
FORM_CACHE_TTL = 300.0


def is_id(value: str) -> bool:
    """Could ``value`` be a stored id? (Others are not looked up: they can only be unknown.)"""
    return len(value) <= 255 and _ID.fullmatch(value) is not None


def check_id(form_id: str) -> None:
    if not is_id(form_id):
        raise FormNotFound(f"form {form_id!r} not found")


def _event(kind: str, form: FormRecord, expected: int) -> NewEvent:
    payload: dict[str, Any] = {"formId": form.id, "name": form.name, "version": form.version}
    if kind != "form.archived":
        payload["description"] = form.description
        payload["definition"] = form.body
    return stamp_request(
        NewEvent(
            type=kind,
            aggregate_id=form.id,
            aggregate_type="form",
            expected_version=expected,
            timestamp=form.updated_at,
            payload=payload,
        )
    )


class FormService:
    def __init__(
        self,
        store: EventStore,
        records: FormRecords,
        events: EventService,
        cache: Cache | None = None,
    ) -> None:
        self.store = store
        self.records = records
        self.events = events
        #: read-through cache of form reads; only a cache every process shares keeps
        #: invalidation correct, so the runtime passes one only when Redis is configured
        self.cache = cache
        self._schemas: OrderedDict[tuple[str, int], Schema] = OrderedDict()

    async def create(self, raw: Any) -> dict[str, Any]:
        definition, schema = parse_definition(raw)
        now = datetime.now(UTC)
        form = FormRecord(
            id=str(uuid.uuid4()),
            name=definition.name,
            description=definition.description,
            body=definition.body(),
            version=1,
            status="active",
            created_at=now,
            updated_at=now,
            event_sequence=1,
        )
        async with self.store.transaction() as tx:
            await self.records.insert_form(tx, form)
            [result] = await tx.append([_event("form.created", form, expected=0)])
        await self.events.committed(result.position)
        self._remember(form, schema)
        return form.to_wire()

    async def get(self, form_id: str, version: int | None = None) -> FormRecord:
        """A form (its current version, or ``version``), read through the cache when there is one.

        A cached copy is used only when it carries the generation the store holds for the form
        now (:meth:`FormRecords.form_generation`, a one-row read of no definition), so the cache
        can never serve a form older than the store: not when an invalidation was lost while
        Redis was down, nor when Redis comes back with data it saved before a restart. Writes
        therefore do not touch the cache; a copy they made stale is replaced at its next read.
        Writes do not use this either: they lock the form's row in their own transaction.
        """
        check_id(form_id)
        if self.cache is None:
            return await self._load(form_id, version)
        generation = await self.records.form_generation(form_id)
        if generation is None:
            raise FormNotFound(f"form {form_id!r} not found")
        key = f"forms:{form_id}:current" if version is None else f"forms:{form_id}:v{version}"

        async def load() -> dict[str, Any]:
            return (await self._load(form_id, version)).to_cache()

        value = await cached(
            self.cache,
            key,
            load,
            ttl=FORM_CACHE_TTL,
            current=lambda hit: hit.get("eventSequence") == generation,
        )
        return FormRecord.from_cache(value)

    async def _load(self, form_id: str, version: int | None) -> FormRecord:
        form = await self.records.get_form(form_id, version)
        if form is None:
            if version is not None and await self.records.get_form(form_id) is not None:
                raise FormNotFound(f"form {form_id!r} has no version {version}")
            raise FormNotFound(f"form {form_id!r} not found")
        return form

    async def list_forms(
        self, *, limit: int, cursor: str | None, status: FormStatus | None = None
    ) -> dict[str, Any]:
        after = decode_cursor(cursor)
        found = await self.records.list_forms(after=after, limit=limit + 1, status=status)
        forms, has_more, next_cursor = page(found, limit)
        return {
            "forms": [f.to_wire() for f in forms],
            "hasMore": has_more,
            "nextCursor": next_cursor,
        }

    async def update(self, form_id: str, raw: Any) -> dict[str, Any]:
        """Replace the definition; ``expectedVersion`` in the body guards against lost updates."""
        check_id(form_id)
        expected, raw = _expected_version(raw)
        definition, schema = parse_definition(raw)
        async with self.store.transaction() as tx:
            current = await self._locked(tx, form_id)
            if expected is not None and expected != current.version:
                raise VersionConflict(
                    f"version conflict: form {form_id!r} is at version {current.version}, "
                    f"not {expected}",
                    details={"expectedVersion": expected, "actualVersion": current.version},
                )
            form = self._replaced(current, definition)
            await self.records.update_form(tx, form, new_version=True)
            [result] = await tx.append(
                [_event("form.updated", form, expected=current.event_sequence)]
            )
        await self.events.committed(result.position)
        self._remember(form, schema)
        return form.to_wire()

    async def archive(self, form_id: str) -> dict[str, Any]:
        """Archive the form; archiving an archived form changes nothing."""
        check_id(form_id)
        async with self.store.transaction() as tx:
            current = await self._locked(tx, form_id, archived_ok=True)
            if current.status == "archived":
                return current.to_wire()
            form = replace(
                current,
                status="archived",
                updated_at=datetime.now(UTC),
                event_sequence=current.event_sequence + 1,
            )
            await self.records.update_form(tx, form, new_version=False)
            [result] = await tx.append(
                [_event("form.archived", form, expected=current.event_sequence)]
            )
        await self.events.committed(result.position)
        return form.to_wire()

    def schema(self, form: FormRecord) -> Schema:
        """The checked rules of one version of a form (cached: a version never changes)."""
        key = (form.id, form.version)
        cached = self._schemas.get(key)
        if cached is None:
            cached = schema_of(form.body)
            self._schemas[key] = cached
            if len(self._schemas) > SCHEMA_CACHE_SIZE:
                self._schemas.popitem(last=False)
        else:
            self._schemas.move_to_end(key)
        return cached

    def _remember(self, form: FormRecord, schema: Schema) -> None:
        self._schemas[(form.id, form.version)] = schema
        if len(self._schemas) > SCHEMA_CACHE_SIZE:
            self._schemas.popitem(last=False)

    async def _locked(self, tx: Any, form_id: str, *, archived_ok: bool = False) -> FormRecord:
        form = await self.records.lock_form(tx, form_id, exclusive=True)
        if form is None:
            raise FormNotFound(f"form {form_id!r} not found")
        if form.status == "archived" and not archived_ok:
            raise FormArchived(f"form {form_id!r} is archived")
        return form

    @staticmethod
    def _replaced(current: FormRecord, definition: FormDefinition) -> FormRecord:
        return replace(
            current,
            name=definition.name,
            description=definition.description,
            body=definition.body(),
            version=current.version + 1,
            updated_at=datetime.now(UTC),
            event_sequence=current.event_sequence + 1,
        )


def _expected_version(raw: Any) -> tuple[int | None, Any]:
    """Split ``expectedVersion`` off a replacement body."""
    if not isinstance(raw, dict) or "expectedVersion" not in raw:
        return None, raw
    rest = dict(raw)
    expected = rest.pop("expectedVersion")
    if expected is None:
        return None, rest
    if isinstance(expected, bool) or not isinstance(expected, int) or not 0 <= expected < 2**31:
        raise ValidationError(
            "Form definition validation failed: expectedVersion must be a whole number >= 0",
            details=[
                {
                    "field": "expectedVersion",
                    "rule": "int_type",
                    "message": "expectedVersion must be a whole number >= 0",
                }
            ],
        )
    return expected, rest
