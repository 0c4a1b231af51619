"""The shapes of the HTTP API as documentation declares them.

Requests are validated by the engines' own models (``events.model``, ``submissions.model``,
``forms.definition``); responses are built as plain dicts by ``to_wire`` methods. The models here
describe both for ``/openapi.json`` and are never run against a request or a response, so
documenting costs a request nothing. ``tests/api/test_openapi.py`` keeps them truthful by checking
real responses against the document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pliers.events.model import ID_PATTERN, MAX_BIGINT, TYPE_PATTERN
from pliers.forms.definition import (
    ANY_ORIGIN,
    MAX_FIELDS,
    MAX_OPTIONS,
    MAX_ORIGINS,
    MAX_PATTERN,
    NAME_PATTERN,
    ORIGIN_PATTERN,
)


class _Doc(BaseModel):
    """A request shape: unknown keys are refused, as the server refuses them."""

    model_config = ConfigDict(extra="forbid")


class _Reply(BaseModel):
    """A response shape. Open to keys added later; :mod:`pliers.client` parses replies with it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class _CursorPage(_Reply):
    """A page of a listing; the next is asked for with ``cursor``."""

    has_more: bool = Field(alias="hasMore")
    next_cursor: str | None = Field(alias="nextCursor", description="`cursor` of the next page")


# --- envelopes ------------------------------------------------------------------------------


class ErrorDetail(_Doc):
    """One failing field of a ``VALIDATION_ERROR``."""

    field: str = Field(description="where: `event.type`, `fields[0].name`, `email`, `body`")
    rule: str = Field(description="the rule that failed: `required`, `pattern`, `minLength`, ...")
    message: str


class Error(BaseModel):
    code: str = Field(description="machine-readable; one of the codes listed for the response")
    message: str = Field(description="for people; `VALIDATION_ERROR` messages contain `validation`")
    details: Any = Field(
        default=None,
        description="for `VALIDATION_ERROR`, a list of `{field, rule, message}`; otherwise "
        "whatever helps (absent when there is nothing to add)",
    )


class ErrorEnvelope(BaseModel):
    """Every failure: a 4xx the client can fix, or a 5xx with a generic message."""

    success: Literal[False]
    error: Error


# --- events ---------------------------------------------------------------------------------

EventTypeText = Annotated[str, Field(min_length=1, max_length=100, pattern=TYPE_PATTERN)]
Identifier = Annotated[str, Field(min_length=1, max_length=255, pattern=ID_PATTERN)]
Position = Annotated[int, Field(ge=0, le=MAX_BIGINT)]


class PublishResult(_Reply):
    event_id: str = Field(alias="eventId")
    published: Literal[True]
    sequence_number: Position = Field(alias="sequenceNumber")
    position: Position
    recorded_at: str = Field(alias="recordedAt", json_schema_extra={"format": "date-time"})
    duplicate: Literal[True] | None = Field(
        default=None, description="present on a re-sent event already stored (status 200)"
    )


class BatchResult(_Reply):
    events: list[PublishResult]
    count: int = Field(ge=0)
    duplicate: Literal[True] | None = Field(
        default=None, description="present when the whole batch was stored before (status 200)"
    )


class StoredEvent(_Reply):
    """An event as the store returns it (REST and the live stream alike)."""

    id: str
    type: str
    aggregate_id: str = Field(alias="aggregateId")
    aggregate_type: str = Field(alias="aggregateType")
    sequence_number: Position = Field(alias="sequenceNumber")
    version: int = Field(ge=1)
    timestamp: str = Field(json_schema_extra={"format": "date-time"})
    recorded_at: str = Field(alias="recordedAt", json_schema_extra={"format": "date-time"})
    correlation_id: str | None = Field(alias="correlationId")
    causation_id: str | None = Field(alias="causationId")
    metadata: dict[str, Any]
    payload: dict[str, Any]
    position: Position = Field(description="global, strictly increasing, in commit order")


class AggregateEvents(_Reply):
    events: list[StoredEvent]


class EventPage(_Reply):
    events: list[StoredEvent]
    has_more: bool = Field(alias="hasMore")
    next_cursor: str | None = Field(
        alias="nextCursor", description="send as `query.cursor` for the next page; null at the end"
    )


# --- forms: the definition, typed ------------------------------------------------------------

Text = Annotated[str, Field(max_length=2000)]
OptionValue = Annotated[str, Field(min_length=1, max_length=500)] | int
Number = int | float


class Option(_Doc):
    value: OptionValue
    label: Text | None = None


class FieldRules(_Doc):
    """Rules given inside a field; each key is a rule type of the form's `validation` list."""

    required: bool | None = None
    email: bool | None = None
    url: bool | None = None
    min_length: int | None = Field(default=None, alias="minLength", ge=0, le=2**31 - 1)
    max_length: int | None = Field(default=None, alias="maxLength", ge=0, le=2**31 - 1)
    min: Number | str | None = Field(
        default=None, description="a number, or a date / date-time / time for those fields"
    )
    max: Number | str | None = None
    pattern: str | None = Field(default=None, max_length=MAX_PATTERN)
    one_of: list[str | bool | Number] | None = Field(default=None, alias="oneOf")
    message: Text | None = Field(default=None, description="replaces every rule's default message")


class _FieldBase(_Doc):
    name: str = Field(
        min_length=1, max_length=100, pattern=NAME_PATTERN, description="unique within the form"
    )
    label: Text | None = None
    description: Text | None = None
    placeholder: Text | None = None
    required: bool = False
    validation: FieldRules | None = None


class TextField(_FieldBase):
    """Text answers; `email` and `url` are checked as such."""

    type: Literal["text", "textarea", "email", "url", "tel"]


class NumberField(_FieldBase):
    type: Literal["number", "integer"]


class BooleanField(_FieldBase):
    type: Literal["boolean"]


class TemporalField(_FieldBase):
    """`date` is YYYY-MM-DD, `datetime` RFC 3339 with an offset, `time` HH:MM[:SS]."""

    type: Literal["date", "datetime", "time"]


Options = Annotated[list[OptionValue | Option], Field(min_length=1, max_length=MAX_OPTIONS)]


class ChoiceField(_FieldBase):
    """The answer is one option (`select`, `radio`) or a list of them (`multiselect`)."""

    type: Literal["select", "radio", "multiselect"]
    options: Options


class CheckboxField(_FieldBase):
    """Without options a yes/no box (a boolean answer); with options, a list of them."""

    type: Literal["checkbox"]
    options: Options | None = None


FieldDefinition = Annotated[
    TextField | NumberField | BooleanField | TemporalField | ChoiceField | CheckboxField,
    Field(discriminator="type"),
]


class _RuleBase(_Doc):
    field: str = Field(description="the name of a field of this form")
    message: Text | None = None


class FlagRule(_RuleBase):
    type: Literal["required", "email", "url"]
    value: bool | None = None


class LengthRule(_RuleBase):
    """Characters of a text answer, or options chosen of a multiple-choice answer."""

    type: Literal["minLength", "maxLength"]
    value: int = Field(ge=0, le=2**31 - 1)


class BoundRule(_RuleBase):
    """For number, integer, date, datetime and time fields, in the field's own format."""

    type: Literal["min", "max"]
    value: Number | str


class PatternRule(_RuleBase):
    type: Literal["pattern"]
    value: str = Field(min_length=1, max_length=MAX_PATTERN, description="a regular expression")


class OneOfRule(_RuleBase):
    type: Literal["oneOf"]
    value: list[str | bool | Number] = Field(min_length=1, max_length=MAX_OPTIONS)


RuleDefinition = Annotated[
    FlagRule | LengthRule | BoundRule | PatternRule | OneOfRule, Field(discriminator="type")
]


class EmailNotification(_Doc):
    """Mail sent for every submission, queued with it and delivered in the background."""

    type: Literal["email"]
    to: list[Annotated[str, Field(json_schema_extra={"format": "email"})]] = Field(
        min_length=1, max_length=50, description="e-mail addresses"
    )
    subject: str = Field(min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=100_000)
    html: bool | None = None


AllowedOrigin = Annotated[
    str,
    Field(
        min_length=1,
        max_length=300,
        json_schema_extra={"anyOf": [{"pattern": ORIGIN_PATTERN}, {"const": ANY_ORIGIN}]},
    ),
]


class FormDefinition(_Doc):
    """A form as clients send it to create one."""

    name: str = Field(min_length=1, max_length=200)
    description: Text | None = None
    fields: list[FieldDefinition] = Field(min_length=1, max_length=MAX_FIELDS)
    validation: list[RuleDefinition] = Field(default=[], max_length=10 * MAX_FIELDS)
    notifications: list[EmailNotification] = Field(default=[], max_length=20)
    public: bool = Field(
        default=False,
        description="respondents may read and submit the form without a key "
        "(`/v1/public/forms/{id}`)",
    )
    allowed_origins: list[AllowedOrigin] = Field(
        default=[],
        alias="allowedOrigins",
        max_length=MAX_ORIGINS,
        description=f"origins whose pages may call the public routes (CORS); `{ANY_ORIGIN}`: any",
    )


class FormReplacement(FormDefinition):
    """A new definition for a form; it becomes the next version."""

    expected_version: int | None = Field(
        default=None,
        alias="expectedVersion",
        ge=1,
        description="replace only if the form's current version is this one (else 409)",
    )


class Form(_Reply):
    id: str
    name: str
    description: str | None
    fields: list[FieldDefinition]
    validation: list[RuleDefinition]
    notifications: list[EmailNotification]
    public: bool = False
    allowed_origins: list[str] = Field(default=[], alias="allowedOrigins")
    version: int = Field(ge=1)
    status: Literal["active", "archived"]
    created_at: str = Field(alias="createdAt", json_schema_extra={"format": "date-time"})
    updated_at: str = Field(alias="updatedAt", json_schema_extra={"format": "date-time"})


class PublicForm(_Reply):
    """What a respondent needs to fill in a public form; nothing of its owner's settings."""

    id: str
    name: str
    description: str | None
    fields: list[FieldDefinition]
    validation: list[RuleDefinition]
    version: int = Field(ge=1)


class PublicSubmission(_Doc):
    data: dict[str, Any] = Field(description="answers by field name, checked against the form")
    metadata: dict[str, Any] = {}


class FormPage(_CursorPage):
    forms: list[Form]


# --- submissions ----------------------------------------------------------------------------


class Submission(_Reply):
    id: str
    form_id: str = Field(alias="formId")
    form_version: int = Field(alias="formVersion", ge=1)
    data: dict[str, Any]
    submitted_by: str | None = Field(alias="submittedBy")
    metadata: dict[str, Any]
    status: str
    created_at: str = Field(alias="createdAt", json_schema_extra={"format": "date-time"})


class SubmissionPage(_CursorPage):
    submissions: list[Submission]


# --- notifications --------------------------------------------------------------------------


class Notification(_Reply):
    id: str
    submission_id: str = Field(alias="submissionId")
    form_id: str = Field(alias="formId")
    channel: str
    recipients: list[str]
    subject: str
    body: str
    html: bool
    status: Literal["queued", "sending", "sent", "failed"]
    attempts: int = Field(ge=0)
    next_attempt_at: str | None = Field(
        alias="nextAttemptAt", json_schema_extra={"format": "date-time"}
    )
    last_error: str | None = Field(alias="lastError")
    provider_message_id: str | None = Field(alias="providerMessageId")
    created_at: str = Field(alias="createdAt", json_schema_extra={"format": "date-time"})
    updated_at: str = Field(alias="updatedAt", json_schema_extra={"format": "date-time"})


class NotificationList(_Reply):
    notifications: list[Notification]
    count: int = Field(ge=0)


# --- health ---------------------------------------------------------------------------------


class Check(BaseModel):
    status: Literal["up", "down"]
    latency_ms: float | None = Field(default=None, alias="latencyMs")
    error: str | None = None


class Health(BaseModel):
    """Not wrapped in the envelope's `data`: load balancers read `status` at the top."""

    success: bool
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: str = Field(json_schema_extra={"format": "date-time"})
    version: str
    checks: dict[str, Check]


# --- keys -----------------------------------------------------------------------------------


class ApiKey(_Reply):
    """A key as listed; ``key``, the secret, is in the answer that creates it and nowhere else."""

    id: str
    name: str
    scopes: list[str]
    created_at: str = Field(alias="createdAt", json_schema_extra={"format": "date-time"})
    expires_at: str | None = Field(
        default=None, alias="expiresAt", json_schema_extra={"format": "date-time"}
    )
    key: str | None = Field(default=None, description="the secret, shown once")
    revoked_at: str | None = Field(
        default=None, alias="revokedAt", json_schema_extra={"format": "date-time"}
    )


class KeyList(_Reply):
    keys: list[ApiKey]
    count: int = Field(ge=0)
