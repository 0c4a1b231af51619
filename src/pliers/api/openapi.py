"""``/openapi.json``: the HTTP contract, assembled from declarations.

Every operation the app serves is declared once with :func:`document`, next to nothing but its
contract: the request body model, the success replies with the model of their ``data``, the
errors it can answer with, and an example. The route itself (a FastAPI route or a plain
Starlette one) carries no response model, so documenting adds no work to a request.

To document a new route::

    from pliers.api.openapi import Reply, document
    document(
        "POST", "/v1/things", id="createThing", tag="things", summary="Create a thing",
        body=NewThing, replies={201: Reply("the thing", Thing, example={...})},
        errors=(ThingConflict,),
    )

The scope an operation needs is read from its endpoint (``pliers.api.auth.requires``).

``tests/api/test_openapi.py`` fails while any route the app serves is undeclared, and while a
declaration names a route the app does not serve.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.routing import Route

from pliers import errors
from pliers.api import auth
from pliers.api.schemas import ErrorEnvelope

#: An error a route can answer with, whether a route, a middleware or the framework raises it.
ErrorSpec = type[errors.PliersError]

COMPONENT = "#/components/schemas/{model}"
SECURITY_SCHEME = auth.SCHEME


@dataclass(frozen=True, slots=True)
class Reply:
    """A success response. ``model`` describes its ``data`` (``None``: no envelope model)."""

    description: str
    model: type[BaseModel] | None = None
    example: Any = None
    #: ``False`` for a body that is the model itself rather than ``{"success": true, "data"}``
    envelope: bool = True
    media_type: str = "application/json"
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: OpenAPI links from this reply to operations that take one of its values
    links: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    tag: str
    summary: str
    replies: Mapping[int, Reply]
    errors: tuple[ErrorSpec, ...] = ()
    description: str | None = None
    body: type[BaseModel] | None = None
    body_example: Any = None
    #: OpenAPI parameter objects; ``None`` takes those FastAPI derives from the route's signature
    parameters: tuple[Mapping[str, Any], ...] | None = None
    #: whether the route reads the store (and so can answer 503 when it is unreachable)
    uses_store: bool = True


_operations: dict[tuple[str, str], Operation] = {}


def document(method: str, path: str, **declaration: Any) -> None:
    """Declare the contract of ``method path`` (see :class:`Operation` for the keywords)."""
    _operations[(method.upper(), path)] = Operation(**declaration)


def declared() -> dict[tuple[str, str], Operation]:
    return dict(_operations)


def served(app: FastAPI) -> Iterator[tuple[str, str]]:
    """``(method, path)`` of every HTTP operation the app routes and lists in its schema."""
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, Route) or not context.include_in_schema:
            continue  # WebSocket routes are in the AsyncAPI document; mounts serve files
        path = _template(context.path_format or "")
        for method in sorted(context.methods or ()):
            if method != "HEAD":  # Starlette answers HEAD for every GET
                yield method, path


def _scopes(app: FastAPI) -> dict[tuple[str, str], str]:
    """The scope each operation's endpoint requires (``pliers.api.auth.requires`` marks it)."""
    found: dict[tuple[str, str], str] = {}
    for context in iter_route_contexts(app.routes):
        scope = getattr(context.endpoint, "pliers_scope", None)
        if isinstance(context.original_route, Route) and isinstance(scope, str):
            for method in context.methods or ():
                found.setdefault((method, _template(context.path_format or "")), scope)
    return found


def _template(path: str) -> str:
    """``/a/{id:path}`` -> ``/a/{id}``."""
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and ":" in part:
            part = part.split(":", 1)[0] + "}"
        parts.append(part)
    return "/".join(parts)


def _codes(specs: Sequence[ErrorSpec]) -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for spec in specs:
        found = by_status.setdefault(spec.status_code, [])
        if spec.code not in found:
            found.append(spec.code)
    return by_status


def _unavailable_codes() -> list[ErrorSpec]:
    found: list[ErrorSpec] = [errors.ServiceUnavailable]
    found.extend(errors.ServiceUnavailable.__subclasses__())
    return found


def _implied_errors(
    op: Operation, parameters: Sequence[Mapping[str, Any]], scope: str | None
) -> list[ErrorSpec]:
    """What every route of a kind can answer, whatever its own rules."""
    implied: list[ErrorSpec] = []
    if op.body is not None:
        implied += [
            errors.InvalidJSON,
            errors.ValidationError,
            errors.PayloadTooLarge,
            errors.UnsupportedMediaType,
        ]
    if parameters:
        implied.append(errors.ValidationError)
    if any(p.get("in") == "path" for p in parameters):
        # a value with a slash in it (%2F) no longer matches the route
        implied.append(errors.NotFound)
    if scope is not None:
        implied += [errors.Unauthorized, errors.Forbidden]
    if op.uses_store:
        implied += _unavailable_codes()
    return implied


_STATUS_TEXT = {
    400: "The request breaks a rule; nothing was stored",
    401: "Authentication is on and no valid key was given (`WWW-Authenticate: Bearer`)",
    403: "The key lacks the scope this operation needs",
    404: "Not found",
    409: "Conflicts with what is stored; nothing was stored",
    413: "The body is larger than `PLIERS_MAX_BODY_BYTES`",
    415: "The body is not declared as JSON",
    429: "Too many requests; try again after `Retry-After` seconds",
    503: "A backing service is unreachable; try again later",
}


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    schema = {
        "allOf": [{"$ref": COMPONENT.format(model="ErrorEnvelope")}],
        "properties": {"error": {"properties": {"code": {"enum": codes}}}},
    }
    examples = {
        code: {
            "summary": code,
            "value": {
                "success": False,
                "error": {"code": code, "message": _MESSAGES.get(code, "…")},
            },
        }
        for code in codes
    }
    response: dict[str, Any] = {
        "description": _STATUS_TEXT.get(status, "Error") + ": " + ", ".join(codes),
        "content": {"application/json": {"schema": schema, "examples": examples}},
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
    return response


_MESSAGES = {
    errors.ValidationError.code: "Request validation failed: event.type",
    errors.InvalidJSON.code: "request body is not valid JSON: EOF while parsing a value",
    errors.NotFound.code: "no route for GET /v1/nowhere",
    errors.SequenceConflict.code: "sequence number 3 is already used in aggregate form-1",
    errors.PayloadTooLarge.code: "request body is larger than 1048576 bytes",
    errors.UnsupportedMediaType.code: "this endpoint accepts application/json, not text/plain",
    errors.ServiceUnavailable.code: "the database is unreachable",
    errors.Unauthorized.code: "a valid API key is required",
    errors.Forbidden.code: "this key lacks the scope this operation needs",
}


class _Schemas:
    """Collects the models the document refers to, then renders them as components."""

    def __init__(self) -> None:
        self._models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {
            (ErrorEnvelope, "serialization"): None
        }

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, str]:
        self._models[(model, mode)] = None
        return {"$ref": COMPONENT.format(model=f"{model.__name__}:{mode}")}

    def render(self, document: dict[str, Any]) -> dict[str, Any]:
        """The component schemas, with the placeholders in ``document`` replaced by real refs."""
        keys, top = models_json_schema(list(self._models), ref_template=COMPONENT, by_alias=True)
        real = {
            COMPONENT.format(model=f"{model.__name__}:{mode}"): ref["$ref"]
            for (model, mode), ref in keys.items()
        }
        _replace_refs(document, real)
        defs: dict[str, Any] = top.get("$defs", {})
        return defs


def _replace_refs(node: Any, real: Mapping[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in real:
            node["$ref"] = real[ref]
        for value in node.values():
            _replace_refs(value, real)
    elif isinstance(node, list):
        for value in node:
            _replace_refs(value, real)


def _reply(reply: Reply, schemas: _Schemas) -> dict[str, Any]:
    response: dict[str, Any] = {"description": reply.description}
    if reply.model is not None or reply.media_type != "application/json":
        if reply.model is None:
            schema: dict[str, Any] = {"type": "string"}
        elif reply.envelope:
            schema = {
                "type": "object",
                "required": ["success", "data"],
                "properties": {
                    "success": {"const": True},
                    "data": schemas.ref(reply.model, "serialization"),
                },
            }
        else:
            schema = schemas.ref(reply.model, "serialization")
        media: dict[str, Any] = {"schema": schema}
        if reply.example is not None:
            example = reply.example
            if reply.envelope and reply.model is not None:
                example = {"success": True, "data": example}
            media["example"] = example
        response["content"] = {reply.media_type: media}
    if reply.headers:
        response["headers"] = {k: dict(v) for k, v in reply.headers.items()}
    if reply.links:
        response["links"] = {k: dict(v) for k, v in reply.links.items()}
    return response


def _operation(
    op: Operation, derived: Mapping[str, Any] | None, scope: str | None, schemas: _Schemas
) -> dict[str, Any]:
    if op.parameters is not None:
        parameters = [dict(p) for p in op.parameters]
    else:
        parameters = list((derived or {}).get("parameters", []))
    document: dict[str, Any] = {
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
    }
    # pliers.api.auth adds the scope's note to the description
    if scope is not None:
        document["security"] = [{SECURITY_SCHEME: [scope]}]
    if op.description:
        document["description"] = op.description
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        media: dict[str, Any] = {"schema": schemas.ref(op.body, "validation")}
        if op.body_example is not None:
            media["example"] = op.body_example
        document["requestBody"] = {"required": True, "content": {"application/json": media}}
    responses = {str(status): _reply(reply, schemas) for status, reply in op.replies.items()}
    implied = _implied_errors(op, parameters, scope)
    for status, codes in sorted(_codes([*implied, *op.errors]).items()):
        responses[str(status)] = _error_response(status, codes)
    document["responses"] = responses
    return document


def build(app: FastAPI, *, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation ``app`` serves."""
    derived = get_openapi(title=app.title, version=app.version, routes=app.routes)
    schemas = _Schemas()
    scopes = _scopes(app)
    paths: dict[str, dict[str, Any]] = {}
    for method, path in served(app):
        op = _operations.get((method, path))
        if op is None:
            continue  # undeclared: the contract test names it
        found = derived.get("paths", {}).get(path, {}).get(method.lower())
        scope = scopes.get((method, path))
        paths.setdefault(path, {})[method.lower()] = _operation(op, found, scope, schemas)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": app.title,
            "version": app.version,
            "summary": app.summary,
            "description": description,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "tags": [{"name": tag, "description": text} for tag, text in TAGS.items()],
    }
    document["components"] = {
        "schemas": schemas.render(document),
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key: `Authorization: Bearer <key>`. Needed only when "
                "authentication is on; each operation names the scope it needs.",
            }
        },
    }
    return document


TAGS = {
    "events": "The append-only event store: publish, read an aggregate, query by filters.",
    "forms": "Form definitions, their versions, archiving and CSV export.",
    "submissions": "Answers to a form, checked against its current version.",
    "notifications": "Mail queued for submissions, and retrying what failed.",
    "public": "Public forms: read and submitted by respondents without a key.",
    "keys": "API keys and their scopes (scope `keys:manage`).",
    "health": "Whether the platform can serve.",
}
