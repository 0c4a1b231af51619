"""The declared contract of the core routes (events, forms, submissions, notifications, health).

Routes added elsewhere declare theirs beside them with :func:`pliers.api.openapi.document`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from pliers import errors
from pliers.api import openapi, schemas
from pliers.api.openapi import Reply, document
from pliers.events.model import ID_PATTERN, MAX_BIGINT, BatchRequest, PublishRequest, QueryRequest
from pliers.keys import KeyRequest
from pliers.submissions.model import NewSubmission

DESCRIPTION = """\
Pliers is an event-sourced forms platform: forms, submissions and notifications are events in an
append-only store, served over this HTTP API and streamed live over WebSocket
(`WS /v1/events/stream`, described in AsyncAPI 3.0 at [/asyncapi.json](/asyncapi.json)).

## The envelope

Every response body is JSON. A success is `{"success": true, "data": …}` (`GET /health` alone
puts its fields at the top, for load balancers). A failure is
`{"success": false, "error": {"code", "message", "details"?}}`: a 4xx for anything the client
can fix, and nothing is stored. Each operation lists the codes it can answer with. A
`VALIDATION_ERROR` lists every failing field at once in `details` as `{field, rule, message}`.
No input produces a 5xx; a 503 `SERVICE_UNAVAILABLE` means the database is unreachable and the
request can be retried.

## Sequence rules

* An event's `sequenceNumber`, when given, only has to be unused within its aggregate (it need
  not start at 1 or be contiguous). A used one is 409 `SEQUENCE_CONFLICT` and nothing is stored.
* An omitted `sequenceNumber` is the aggregate's highest + 1 (1 for a new aggregate); concurrent
  appends without numbers to one aggregate all succeed with distinct, contiguous numbers.
* `expectedVersion` is optimistic concurrency: append only if the aggregate's highest sequence
  number is exactly that (0: the aggregate must not exist yet); otherwise 409 `SEQUENCE_CONFLICT`.
* Re-sending an event whose `id` is stored with identical content answers 200 with the original
  result and `"duplicate": true`; the same `id` with other content is 409 `DUPLICATE_EVENT`.
* Every stored event has a `position`, global and strictly increasing. Reading after a position
  never misses an event that commits later with a smaller one.

## Pagination

Lists are read in pages: a page says `hasMore` and gives `nextCursor`, which the next request
sends as `cursor` (`query.cursor` for the event query). A cursor is opaque; one this server did
not issue is a 400 `VALIDATION_ERROR`.

## Authentication

When the operator turns authentication on, every operation except `GET /health` and the public
form routes needs `Authorization: Bearer <key>` (401 `UNAUTHORIZED` without a valid one), and
each operation names the scope its key needs (403 `FORBIDDEN` without it).
"""

EVENT_EXAMPLE = {
    "id": "7b4e9a52-2f0d-4a51-9a43-6f3c6c1d9b10",
    "type": "form.created",
    "aggregateId": "form-1",
    "aggregateType": "form",
    "sequenceNumber": 1,
    "version": 1,
    "timestamp": "2026-11-30T12:00:00.000000Z",
    "recordedAt": "2026-11-30T12:00:00.000412Z",
    "correlationId": None,
    "causationId": None,
    "metadata": {},
    "payload": {"name": "Contact"},
    "position": 1,
}
PUBLISHED = {
    "eventId": EVENT_EXAMPLE["id"],
    "published": True,
    "sequenceNumber": 1,
    "position": 1,
    "recordedAt": EVENT_EXAMPLE["recordedAt"],
}
DEFINITION: dict[str, Any] = {
    "name": "Registration Form",
    "description": "Sign up for the meetup",
    "fields": [
        {"name": "name", "type": "text", "label": "Name", "required": True},
        {"name": "email", "type": "email", "label": "Email", "required": True},
        {"name": "track", "type": "select", "options": ["web", "data"]},
    ],
    "validation": [{"field": "name", "type": "minLength", "value": 2}],
    "notifications": [],
}
FORM = {
    "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    **DEFINITION,
    "version": 1,
    "status": "active",
    "createdAt": "2026-11-30T12:00:00.000000Z",
    "updatedAt": "2026-11-30T12:00:00.000000Z",
}
SUBMISSION = {
    "id": "3c5e1b0a-8d7f-4e2b-9a61-5b2f0c7d4e19",
    "formId": FORM["id"],
    "formVersion": 1,
    "data": {"name": "Ada", "email": "ada@example.com", "track": "data"},
    "submittedBy": None,
    "metadata": {},
    "status": "submitted",
    "createdAt": "2026-11-30T12:01:00.000000Z",
}
NOTIFICATION = {
    "id": "c1d2e3f4-0000-4a51-9a43-6f3c6c1d9b10",
    "submissionId": SUBMISSION["id"],
    "formId": FORM["id"],
    "channel": "email",
    "recipients": ["ops@example.com"],
    "subject": "New registration",
    "body": "name: Ada",
    "html": False,
    "status": "sent",
    "attempts": 1,
    "nextAttemptAt": None,
    "lastError": None,
    "providerMessageId": "sg-123",
    "createdAt": "2026-11-30T12:01:00.000000Z",
    "updatedAt": "2026-11-30T12:01:01.000000Z",
}
HEALTH = {
    "success": True,
    "status": "healthy",
    "timestamp": "2026-11-30T12:00:00.000000Z",
    "version": "0.1.0",
    "checks": {"database": {"status": "up", "latencyMs": 0.42, "backend": "sqlite"}},
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def _path(name: str, description: str, pattern: str | None = ID_PATTERN) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255}
    if pattern is not None:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}  # fmt: skip


CURSOR = _query("cursor", {"type": "string", "maxLength": 200}, "`nextCursor` of the page before")
SEQUENCE = {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send a retry with the same key to receive the stored submission (200, "
    "`Idempotent-Replayed: true`) instead of storing it twice; 1 to 255 printable ASCII "
    "characters, unique per form.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def _link(operation: str, parameter: str, value: str = "$response.body#/data/id") -> dict[str, Any]:
    """An OpenAPI link: ``operation`` takes ``value`` of this reply as its ``parameter``."""
    return {"operationId": operation, "parameters": {parameter: value}}


FORM_LINKS = {
    **{op: _link(op, "form_id") for op in ("getForm", "updateForm", "archiveForm")},
    "exportSubmissions": _link("exportSubmissions", "form_id"),
    "listSubmissionsOfForm": _link("listSubmissions", "formId"),
}
#: what a submission route answers: stored now, or stored before under the same key
SUBMITTED = {
    201: Reply("Stored", schemas.Submission, example=SUBMISSION,
               links={"getSubmission": _link("getSubmission", "submission_id")}),
    200: Reply("Stored before under the same `Idempotency-Key`", schemas.Submission,
               example=SUBMISSION,
               headers={"Idempotent-Replayed": {"schema": {"const": "true"}}}),
}  # fmt: skip
SUBMISSION_ERRORS = (
    errors.FormNotFound,
    errors.FormArchived,
    errors.IdempotencyKeyReused,
    errors.IdempotencyKeyInFlight,
)


def _declare() -> None:
    document(
        "GET", "/health", id="health", tag="health", uses_store=False,
        summary="Health of the platform and its dependencies",
        replies={
            200: Reply("Healthy, or degraded (Redis down: the API keeps serving)", schemas.Health,
                       envelope=False, example=HEALTH),
            503: Reply("Unhealthy: the database is unreachable", schemas.Health, envelope=False,
                       example={**HEALTH, "success": False, "status": "unhealthy", "checks": {
                           "database": {"status": "down", "error": "connection refused"}}}),
        },
    )  # fmt: skip
    document(
        "POST", "/v1/events/events", id="publishEvent", tag="events",
        summary="Append one event",
        description="The sequence rules are in the API description.",
        body=PublishRequest,
        body_example={"event": {"type": "form.created", "aggregateId": "form-1",
                                "payload": {"name": "Contact"}}},
        replies={
            201: Reply("Stored", schemas.PublishResult, example=PUBLISHED),
            200: Reply("Already stored with identical content (`duplicate: true`)",
                       schemas.PublishResult, example={**PUBLISHED, "duplicate": True}),
        },
        errors=(errors.SequenceConflict, errors.DuplicateEvent, errors.AggregateOwned),
    )  # fmt: skip
    document(
        "POST", "/v1/events/events/batch", id="publishBatch", tag="events",
        summary="Append up to 1,000 events atomically",
        description="All events are stored, or none: any conflict rejects the whole batch.",
        body=BatchRequest,
        body_example={"events": [
            {"type": "test.event", "aggregateId": "order-7", "payload": {"step": 1}},
            {"type": "test.event", "aggregateId": "order-7", "payload": {"step": 2}},
        ]},
        replies={
            201: Reply("Stored", schemas.BatchResult,
                       example={"events": [PUBLISHED], "count": 1}),
            200: Reply("The whole batch was stored before", schemas.BatchResult,
                       example={"events": [{**PUBLISHED, "duplicate": True}], "count": 1,
                                "duplicate": True}),
        },
        errors=(errors.SequenceConflict, errors.DuplicateEvent, errors.AggregateOwned),
    )  # fmt: skip
    document(
        "GET", "/v1/events/events/aggregates/{aggregate_id}", id="readAggregate", tag="events",
        summary="Read an aggregate's events in sequence order",
        description="All of them unless limited. An unknown aggregate has no events.",
        parameters=(
            _path("aggregate_id", "the aggregate's id"),
            _query("fromSequence", SEQUENCE, "first sequence number to return"),
            _query("toSequence", SEQUENCE, "last sequence number to return"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 100_000},
                   "at most this many events"),
        ),
        replies={200: Reply("The events", schemas.AggregateEvents,
                            example={"events": [EVENT_EXAMPLE]})},
    )  # fmt: skip
    document(
        "POST", "/v1/events/events/query", id="queryEvents", tag="events",
        summary="Query events by filters, in position order",
        description="Filters are combined with AND. Read every page by sending `nextCursor` "
        "back as `query.cursor` while `hasMore` is true.",
        body=QueryRequest,
        body_example={"query": {"eventTypes": ["form.created"], "limit": 10}},
        replies={200: Reply("A page of events", schemas.EventPage,
                            example={"events": [EVENT_EXAMPLE], "hasMore": True,
                                     "nextCursor": "cDox"})},
    )  # fmt: skip
    document(
        "POST", "/v1/forms/forms", id="createForm", tag="forms",
        summary="Create a form",
        description="Appends `form.created` to the form's aggregate in the same transaction.",
        body=schemas.FormDefinition, body_example=DEFINITION,
        replies={201: Reply("The form, version 1", schemas.Form, example=FORM, links=FORM_LINKS)},
    )  # fmt: skip
    document(
        "GET", "/v1/forms/forms", id="listForms", tag="forms",
        summary="List forms in creation order",
        replies={200: Reply("A page of forms", schemas.FormPage,
                            example={"forms": [FORM], "hasMore": False, "nextCursor": None})},
    )  # fmt: skip
    document(
        "GET", "/v1/forms/forms/{form_id}", id="getForm", tag="forms",
        summary="Read a form, or one of its versions",
        replies={200: Reply("The form", schemas.Form, example=FORM)},
        errors=(errors.FormNotFound,),
    )  # fmt: skip
    document(
        "PUT", "/v1/forms/forms/{form_id}", id="updateForm", tag="forms",
        summary="Replace a form's definition (a new version)",
        description="Appends `form.updated`. Submissions are checked against the new version.",
        body=schemas.FormReplacement, body_example={**DEFINITION, "expectedVersion": 1},
        replies={200: Reply("The form, at its new version", schemas.Form,
                            example={**FORM, "version": 2})},
        errors=(errors.FormNotFound, errors.VersionConflict, errors.FormArchived),
    )  # fmt: skip
    document(
        "DELETE", "/v1/forms/forms/{form_id}", id="archiveForm", tag="forms",
        summary="Archive a form",
        description="Appends `form.archived`; new submissions to it are 409 `FORM_ARCHIVED`. "
        "Archiving an archived form changes nothing.",
        replies={200: Reply("The archived form", schemas.Form,
                            example={**FORM, "status": "archived"})},
        errors=(errors.FormNotFound,),
    )  # fmt: skip
    document(
        "GET", "/v1/forms/forms/{form_id}/submissions.csv", id="exportSubmissions", tag="forms",
        summary="Every submission of a form as CSV",
        replies={200: Reply("One row per submission, a column per field of any version",
                            media_type="text/csv; charset=utf-8",
                            example="id,createdAt,formVersion,name\r\n3c5e…,2026-11-30…,1,Ada\r\n",
                            headers={"Content-Disposition": {"schema": {"type": "string"}}})},
        errors=(errors.FormNotFound,),
    )  # fmt: skip
    document(
        "POST", "/v1/submissions/submissions", id="createSubmission", tag="submissions",
        summary="Submit data to a form",
        description="Checked against the form's current version; every failing field is "
        "reported at once. Queues the form's notifications with the submission.",
        body=NewSubmission,
        body_example={"formId": FORM["id"], "data": SUBMISSION["data"]},
        parameters=(IDEMPOTENCY_KEY,),
        replies=SUBMITTED,
        errors=SUBMISSION_ERRORS,
    )  # fmt: skip
    document(
        "GET", "/v1/submissions/submissions", id="listSubmissions", tag="submissions",

        summary="List submissions in creation order, optionally of one form",
        replies={200: Reply("A page of submissions", schemas.SubmissionPage,
                            example={"submissions": [SUBMISSION], "hasMore": False,
                                     "nextCursor": None})},
        errors=(errors.FormNotFound,),
    )  # fmt: skip
    document(
        "GET", "/v1/submissions/submissions/{submission_id}", id="getSubmission",
        tag="submissions", summary="Read a submission",
        replies={200: Reply("The submission", schemas.Submission, example=SUBMISSION)},
        errors=(errors.SubmissionNotFound,),
    )  # fmt: skip
    first = "$response.body#/data/notifications/0/id"
    document(
        "GET", "/v1/notifications", id="listNotifications", tag="notifications",
        summary="List notifications, oldest first",
        replies={200: Reply("Notifications", schemas.NotificationList,
                            example={"notifications": [NOTIFICATION], "count": 1}, links={
            op: _link(op, "notification_id", first)
            for op in ("getNotification", "retryNotification")
        })},
    )  # fmt: skip
    document(
        "GET", "/v1/notifications/{notification_id}", id="getNotification",
        tag="notifications", summary="One notification",
        replies={200: Reply("The notification", schemas.Notification, example=NOTIFICATION)},
        errors=(errors.NotificationNotFound,),
    )  # fmt: skip
    document(
        "POST", "/v1/notifications/{notification_id}/retry", id="retryNotification",
        tag="notifications",
        summary="Queue a failed notification again",
        replies={202: Reply("Queued again", schemas.Notification,
                            example={**NOTIFICATION, "status": "queued", "attempts": 5})},
        errors=(errors.NotificationNotFound, errors.NotificationNotFailed),
    )  # fmt: skip

    cors = errors.Forbidden  # also a page on an origin the form does not allow (CORS)
    public = {k: FORM[k] for k in ("id", "name", "description", "fields", "validation", "version")}
    document(
        "GET", "/v1/public/forms/{form_id}", id="readPublicForm", tag="public",
        summary="A public form: what a respondent needs to fill it in",
        description="No key needed. A private or unknown form is 404 alike.",
        replies={200: Reply("The form as respondents see it", schemas.PublicForm,
                            example=public)},
        errors=(errors.FormNotFound, cors),
    )  # fmt: skip
    document(
        "POST", "/v1/public/forms/{form_id}/submissions", id="submitPublicForm", tag="public",
        summary="Submit to a public form, without a key (rate limited per client address)",
        description="`PLIERS_PUBLIC_RATE_LIMIT` submissions per client address; past it, 429 "
        "with `Retry-After`. Pages on the form's `allowedOrigins` may post from a browser.",
        body=schemas.PublicSubmission, body_example={"data": SUBMISSION["data"]},
        parameters=(IDEMPOTENCY_KEY, _path("form_id", "the form's id", pattern=None)),
        replies={201: Reply("Stored", schemas.Submission, example=SUBMISSION), 200: SUBMITTED[200]},
        errors=(*SUBMISSION_ERRORS, errors.RateLimited, cors),
    )  # fmt: skip

    key = {
        "id": "key_3f9c2a",
        "name": "reporting",
        "scopes": ["events:read", "submissions:read"],
        "createdAt": "2026-11-30T12:00:00.000000Z",
        "expiresAt": "2027-03-01T00:00:00.000000Z",
        "revokedAt": None,
    }
    document(
        "POST", "/v1/keys", id="createKey", tag="keys", body=KeyRequest,
        summary="Create a key; its secret is in this answer only",
        body_example={"name": "reporting", "scopes": ["events:read", "submissions:read"],
                      "expiresAt": "2027-03-01T00:00:00Z"},
        replies={201: Reply("The key and, once, its secret", schemas.ApiKey,
                            example={**key, "key": "plk_…"},
                            links={"revokeKey": _link("revokeKey", "key_id")})},
    )  # fmt: skip
    document(
        "GET", "/v1/keys", id="listKeys", tag="keys",
        summary="Every key, revoked ones included, without secrets",
        replies={200: Reply("The keys", schemas.KeyList, example={"keys": [key], "count": 1})},
    )  # fmt: skip
    document(
        "DELETE", "/v1/keys/{key_id}", id="revokeKey", tag="keys",
        summary="Revoke a key, at once, in every server process",
        replies={200: Reply("The revoked key", schemas.ApiKey,
                            example={**key, "revokedAt": "2026-12-01T09:00:00.000000Z"})},
        errors=(errors.KeyNotFound,),
    )  # fmt: skip
    document(
        "GET", "/metrics", id="metrics", tag="operations", uses_store=False,
        summary="Prometheus metrics of every worker",
        description="The Prometheus text exposition format, summed over every worker of the "
        "server. Open on loopback with authentication off; otherwise a key with `metrics:read`.",
        replies={200: Reply("Every metric, in the Prometheus text format", envelope=False,
                            media_type="text/plain; version=1.0.0; charset=utf-8",
                            example="pliers_http_requests_total{method=\"GET\",route=\"/health\","
                                    "status=\"200\"} 3.0\n")},
    )  # fmt: skip


_declare()


def install(app: FastAPI) -> None:
    """Serve the declared contract at ``/openapi.json`` (built once, on first request)."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.build(app, description=DESCRIPTION)
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]  # FastAPI's documented override
