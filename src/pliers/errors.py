"""The one error hierarchy of Pliers.

Every error a client can cause is a :class:`PliersError` that knows its HTTP status and its
machine-readable code; :mod:`pliers.api.envelope` turns any of them into the JSON envelope.
Adapters translate driver errors into these types (``raise ... from e``), so nothing above the
storage layer ever sees an asyncpg or sqlite3 exception. Every code a response carries is the
``code`` of one class here (``tests/test_errors.py`` fails on a code spelled out elsewhere).
"""

from __future__ import annotations

from typing import Any, ClassVar


class PliersError(Exception):
    """Root of every error Pliers raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    #: response headers the error needs (``WWW-Authenticate``, ``Retry-After``)
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationError(PliersError):
    """Input that breaks a rule. ``details`` lists ``{field, rule, message}`` per failure."""

    status_code = 400
    code = "VALIDATION_ERROR"


class InvalidJSON(PliersError):
    """A body (or a stream message) that does not parse as JSON."""

    status_code = 400
    code = "INVALID_JSON"


class NotFound(PliersError):
    status_code = 404
    code = "NOT_FOUND"


class Unauthorized(PliersError):
    """No key, or a key that is unknown, revoked or expired."""

    status_code = 401
    code = "UNAUTHORIZED"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 -- read only


class Forbidden(PliersError):
    """A valid key without the scope the route needs (or a browser origin a form does not allow)."""

    status_code = 403
    code = "FORBIDDEN"


class StaleForm(PliersError):
    """A console form posted without the session's CSRF token."""

    status_code = 403
    code = "CSRF_FAILED"


class RateLimited(PliersError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retryAfter": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


class Conflict(PliersError):
    status_code = 409
    code = "CONFLICT"


class SequenceConflict(Conflict):
    """A sequence number already used in its aggregate, or an ``expectedVersion`` mismatch."""

    code = "SEQUENCE_CONFLICT"


class DuplicateEvent(Conflict):
    """An event id that is already stored with different content."""

    code = "DUPLICATE_EVENT"


class AggregateOwned(Conflict):
    """A raw event to an aggregate an engine created (a form, a submission, a notification)."""

    code = "AGGREGATE_OWNED"


class IdempotencyKeyReused(Conflict):
    """An ``Idempotency-Key`` that a different submission to the same form was stored under."""

    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyKeyInFlight(Conflict):
    """Another writer stored a submission under the same key while this one was being written."""

    code = "IDEMPOTENCY_KEY_IN_FLIGHT"

    def __init__(self) -> None:
        super().__init__(
            "a submission with this Idempotency-Key was stored while this one was being "
            "written; send the request again to receive it"
        )


class PayloadTooLarge(PliersError):
    """A request body over ``PLIERS_MAX_BODY_BYTES``."""

    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class MethodNotAllowed(PliersError):
    """A method the path is not served with (the response's ``Allow`` names those it is)."""

    status_code = 405
    code = "METHOD_NOT_ALLOWED"


class RequestTimeout(PliersError):
    """A request head or body not received whole within ``PLIERS_HEADER_READ_TIMEOUT`` or
    ``PLIERS_BODY_READ_TIMEOUT``."""

    status_code = 408
    code = "REQUEST_TIMEOUT"


class TooManyConnections(PliersError):
    """A connection past ``PLIERS_MAX_CONNECTIONS_PER_CLIENT`` from one client address."""

    status_code = 429
    code = "TOO_MANY_CONNECTIONS"


class HostNotAllowed(PliersError):
    """A ``Host`` outside ``PLIERS_ALLOWED_HOSTS`` while authentication is off."""

    status_code = 421
    code = "HOST_NOT_ALLOWED"


class HTTPError(PliersError):
    """An HTTP error the web framework raised with a status no other class here stands for.

    The response keeps the framework's status; only the code comes from here.
    """

    code = "HTTP_ERROR"


class UnsupportedMediaType(PliersError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class ServiceUnavailable(PliersError):
    """A backing service (the database) cannot be reached."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"


class BrokerUnavailable(ServiceUnavailable):
    """The message broker (Redis pub/sub) cannot be reached; live delivery falls back to polling."""

    code = "BROKER_UNAVAILABLE"


class CacheUnavailable(ServiceUnavailable):
    """The cache (Redis) cannot be reached; callers read from the database instead."""

    code = "CACHE_UNAVAILABLE"


class ConfigurationError(PliersError):
    """A setting that cannot work; raised before the server starts."""

    code = "CONFIGURATION_ERROR"


class FormNotFound(NotFound):
    code = "FORM_NOT_FOUND"


class SubmissionNotFound(NotFound):
    code = "SUBMISSION_NOT_FOUND"


class VersionConflict(Conflict):
    """An ``expectedVersion`` of a form that is no longer its current version."""

    code = "VERSION_CONFLICT"


class FormArchived(Conflict):
    """A write to a form that is archived."""

    code = "FORM_ARCHIVED"


class EmailServiceError(PliersError):
    """The email provider refused a message or could not be reached after the last attempt.

    ``retryable`` tells a caller with its own schedule (the outbox) whether trying again later
    can help: rate limits, 5xx and network errors can; other 4xx cannot.
    """

    status_code = 502
    code = "EMAIL_SERVICE_ERROR"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        details: Any = None,
    ) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.retryable = retryable


class NotificationNotFound(NotFound):
    code = "NOTIFICATION_NOT_FOUND"


class NotificationNotFailed(Conflict):
    """Only a failed notification can be queued again."""

    code = "NOTIFICATION_NOT_FAILED"


class KeyNotFound(NotFound):
    code = "KEY_NOT_FOUND"
