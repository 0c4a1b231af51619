"""The errors the client raises: one per kind of answer, each carrying the server's envelope."""

from __future__ import annotations

from typing import Any

from pliers.errors import HTTPError


class PliersAPIError(Exception):
    """The server answered with an error envelope: ``{"success": false, "error": {...}}``."""

    #: the answer's ``Retry-After`` in seconds, when it had one
    retry_after: float | None = None

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ValidationFailed(PliersAPIError):
    """400: the request breaks a rule (``VALIDATION_ERROR``, ``INVALID_JSON``); ``details``
    lists every failing field as ``{field, rule, message}``."""


class Unauthorized(PliersAPIError):
    """401: authentication is on and the key is missing, unknown, revoked or expired."""


class Forbidden(PliersAPIError):
    """403: the key lacks the scope the operation needs."""


class NotFound(PliersAPIError):
    """404: the resource (or the route) does not exist."""


class Conflict(PliersAPIError):
    """409: the write conflicts with what is stored; nothing was stored."""


class PayloadTooLarge(PliersAPIError):
    """413: the body is larger than the server accepts."""


class UnsupportedMediaType(PliersAPIError):
    """415: the body was not sent as JSON."""


class RateLimited(PliersAPIError):
    """429 after the last retry; ``retry_after`` is the server's ``Retry-After`` in seconds."""


class ServiceUnavailable(PliersAPIError):
    """503 after the last retry: a backing service of the server is unreachable."""


class ServerError(PliersAPIError):
    """Any other 5xx: a bug on the server."""


class StreamError(PliersAPIError):
    """The live stream refused a subscription (``{"type": "error", "code", "message"}``)."""


BY_STATUS: dict[int, type[PliersAPIError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_for(status: int, body: Any) -> PliersAPIError:
    """The error an answer stands for, from its envelope when it has one."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", HTTPError.code))
        message = str(error.get("message", ""))
        details = error.get("details")
    else:
        code, message, details = HTTPError.code, f"HTTP {status}", None
    kind = BY_STATUS.get(status, ServerError if status >= 500 else PliersAPIError)
    return kind(status, code, message, details)
