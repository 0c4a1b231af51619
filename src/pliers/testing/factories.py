"""Test data builders: the seed's EventFactory and FormBuilder."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any


class EventFactory:
    """Builds events in the wire form clients send.

    Like the seed's factory, sequence numbers come from one counter shared by every event it
    builds, so they are unique but neither start at 1 nor are contiguous within an aggregate.
    """

    def __init__(self) -> None:
        self._sequence = itertools.count(1)

    def build(self, **overrides: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "type": "test.event",
            "aggregateId": f"aggregate-{uuid.uuid4().hex[:12]}",
            "sequenceNumber": next(self._sequence),
            "timestamp": datetime.now(UTC).isoformat(),
            "metadata": {"source": "pliers.testing"},
            "payload": {},
        }
        event.update(overrides)
        return event

    def build_many(self, count: int, **overrides: Any) -> list[dict[str, Any]]:
        return [self.build(**overrides) for _ in range(count)]


class FormBuilder:
    """Builds the body of ``POST /v1/forms/forms``, fluently, like the seed's FormBuilder.

    ``FormBuilder().with_name("Signup").with_text_field("email", required=True)
    .with_validation([{"field": "email", "type": "email"}]).build()``

    A form needs a field: when none was added, ``build`` gives it one optional text field,
    :data:`DEFAULT_FIELD`, so ``FormBuilder().build()`` is a form the server accepts.
    """

    DEFAULT_FIELD: dict[str, Any] = {"name": "name", "type": "text"}  # noqa: RUF012 - copied

    def __init__(self) -> None:
        self._name = "Test Form"
        self._description: str | None = None
        self._fields: list[dict[str, Any]] = []
        self._validation: list[dict[str, Any]] = []
        self._notifications: list[dict[str, Any]] = []

    @classmethod
    def create(cls) -> FormBuilder:
        return cls()

    def with_name(self, name: str) -> FormBuilder:
        self._name = name
        return self

    def with_description(self, description: str) -> FormBuilder:
        self._description = description
        return self

    def with_field(
        self, name: str, type: str = "text", *, required: bool = False, **options: Any
    ) -> FormBuilder:
        """Any field: ``with_field("size", "select", options=["S", "M"], label="Size")``."""
        field: dict[str, Any] = {"name": name, "type": type}
        if required:
            field["required"] = True
        field.update(options)
        self._fields.append(field)
        return self

    def with_text_field(self, name: str, required: bool = False, **options: Any) -> FormBuilder:
        return self.with_field(name, "text", required=required, **options)

    def with_email_field(self, name: str, required: bool = False, **options: Any) -> FormBuilder:
        return self.with_field(name, "email", required=required, **options)

    def with_select_field(
        self, name: str, choices: list[Any], required: bool = False, **options: Any
    ) -> FormBuilder:
        return self.with_field(name, "select", required=required, options=choices, **options)

    def with_validation(self, rules: list[dict[str, Any]]) -> FormBuilder:
        """Rules of the form's ``validation`` list: ``{"field", "type", "value"?, "message"?}``."""
        self._validation.extend(rules)
        return self

    def with_notification(
        self,
        to: str | list[str] = "ops@example.com",
        subject: str = "New submission",
        **options: Any,
    ) -> FormBuilder:
        """An e-mail notification for every submission (``body=``, ``html=`` as options)."""
        recipients = [to] if isinstance(to, str) else list(to)
        self._notifications.append(
            {"type": "email", "to": recipients, "subject": subject, **options}
        )
        return self

    def build(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self._name,
            "fields": [dict(f) for f in self._fields or [self.DEFAULT_FIELD]],
            "validation": [dict(r) for r in self._validation],
            "notifications": [dict(n) for n in self._notifications],
        }
        if self._description is not None:
            body["description"] = self._description
        return body
