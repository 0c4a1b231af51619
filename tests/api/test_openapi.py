"""`/openapi.json` is valid OpenAPI 3.1, lists every route, and tells what the server does."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from openapi_spec_validator import validate
from starlette.routing import Route

from pliers.api import auth, contract
from pliers.api.app import create_app
from pliers.api.openapi import declared, served
from pliers.forms.definition import FIELD_TYPES, RULE_TYPES


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    """The document passes the OpenAPI 3.1 validator, refs and all."""
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_the_app_serves_is_declared_and_documented(document: dict[str, Any]) -> None:
    """A route without a declaration, or a declaration without a route, fails here.

    Declare a new route with ``pliers.api.openapi.document(method, path, ...)``.
    """
    app = create_app()
    routes = set(served(app))
    undeclared = routes - set(declared())
    stale = set(declared()) - routes
    assert not undeclared, f"routes without a contract: {sorted(undeclared)}"
    assert not stale, f"contracts of routes the app does not serve: {sorted(stale)}"
    listed = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert listed == routes


#: Routes left out of the OpenAPI document on purpose: the documentation itself, and HTML pages
#: for people (not an API).
UNDOCUMENTED = ("/openapi.json", "/asyncapi.json", "/docs", "/f/", "/static/", "/console")


def test_routes_left_out_of_the_document_are_documentation_pages_or_fast_paths() -> None:
    """A route hidden with ``include_in_schema=False`` is one of the kinds above, or a fast path
    in front of a declared operation with the same method and path."""
    app = create_app()
    documented = set(served(app))
    hidden: list[tuple[str, str]] = []
    for context in iter_route_contexts(app.routes):
        path = context.path_format or ""
        if isinstance(context.original_route, Route) and not context.include_in_schema:
            hidden += [(m, path) for m in sorted(context.methods or ()) if m != "HEAD"]
    assert ("GET", "/docs") in hidden
    strays = [
        (m, p) for m, p in hidden if not p.startswith(UNDOCUMENTED) and (m, p) not in documented
    ]
    assert not strays, f"routes hidden from /openapi.json: {strays}"


def test_every_operation_has_an_example_its_errors_and_no_framework_422(
    document: dict[str, Any],
) -> None:
    """Each operation shows an example reply, documents its error codes, and never a 422."""
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert "422" not in op["responses"], where
            success = [s for s in op["responses"] if s.startswith("2")]
            assert success, where
            media = next(iter(op["responses"][success[0]]["content"].values()))
            assert "example" in media, where
            if "requestBody" in op:
                assert "example" in op["requestBody"]["content"]["application/json"], where
                errors = op["responses"]["400"]["content"]["application/json"]
                codes = errors["schema"]["properties"]["error"]["properties"]["code"]["enum"]
                assert {"VALIDATION_ERROR", "INVALID_JSON"} <= set(codes), where
                assert {"413", "415"} <= set(op["responses"]), where


def test_form_definition_is_typed_with_every_field_and_rule_type(
    document: dict[str, Any],
) -> None:
    """Field and rule types are discriminated unions naming all 15 field and 9 rule types."""
    schemas = document["components"]["schemas"]
    fields = schemas["FormDefinition"]["properties"]["fields"]["items"]
    rules = schemas["FormDefinition"]["properties"]["validation"]["items"]
    assert set(fields["discriminator"]["mapping"]) == set(FIELD_TYPES)
    assert set(rules["discriminator"]["mapping"]) == set(RULE_TYPES)


def test_description_explains_the_envelope_sequences_and_the_stream(
    document: dict[str, Any],
) -> None:
    text = document["info"]["description"]
    for needle in ("The envelope", "Sequence rules", "SEQUENCE_CONFLICT", "/asyncapi.json"):
        assert needle in text
    assert document["components"]["securitySchemes"][auth.SCHEME]["scheme"] == "bearer"
    publish = document["paths"]["/v1/events/events"]["post"]
    assert publish["security"] == [{auth.SCHEME: ["events:write"]}]
    assert {"401", "403"} <= set(publish["responses"])
    assert "security" not in document["paths"]["/health"]["get"]


def _check(document: dict[str, Any], method: str, path: str, response: httpx.Response) -> None:
    """The response's status is documented for the operation and its body fits the schema."""
    op = document["paths"][path][method.lower()]
    documented = op["responses"].get(str(response.status_code))
    assert documented is not None, f"{method} {path} answered undocumented {response.status_code}"
    media_type = response.headers["content-type"].split(";")[0]
    content = documented["content"]
    media = content.get(media_type) or next(
        v for k, v in content.items() if k.split(";")[0] == media_type
    )
    if media_type != "application/json":
        return
    schema = {**media["schema"], "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(response.json())


@pytest.mark.integration
async def test_real_responses_fit_the_document(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Each operation's example request, and a few failures, answer as documented (both stores)."""
    document = app.openapi()
    forms = "/v1/forms/forms"

    async def call(method: str, template: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, url, **kwargs)
        _check(document, method, template, response)
        return response

    events = "/v1/events/events"
    example = document["paths"][events]["post"]["requestBody"]["content"]["application/json"]
    assert (await call("POST", events, events, json=example["example"])).status_code == 201
    event = {"type": "test.event", "aggregateId": "a-1", "id": "e-1", "sequenceNumber": 5}
    assert (await call("POST", events, events, json={"event": event})).status_code == 201
    assert (await call("POST", events, events, json={"event": event})).status_code == 200
    clash = {**event, "id": "e-2"}
    assert (await call("POST", events, events, json={"event": clash})).status_code == 409
    assert (await call("POST", events, events, content=b"{")).status_code == 400
    assert (await call("POST", events, events, json={"event": {}})).status_code == 400
    bad_type = {"content-type": "text/plain"}
    assert (await call("POST", events, events, content=b"x", headers=bad_type)).status_code == 415
    batch = f"{events}/batch"
    await call("POST", batch, batch, json={"events": [{"type": "a.b", "aggregateId": "b-1"}]})
    aggregate = f"{events}/aggregates/{{aggregate_id}}"
    await call("GET", aggregate, f"{events}/aggregates/a-1")
    assert (await call("GET", aggregate, f"{events}/aggregates/a-1?limit=0")).status_code == 400
    query = f"{events}/query"
    page = await call("POST", query, query, json={"query": {"limit": 1}})
    cursor = page.json()["data"]["nextCursor"]
    await call("POST", query, query, json={"query": {"cursor": cursor}})
    assert (await call("POST", query, query, json={"query": {"cursor": "?"}})).status_code == 400

    created = await call("POST", forms, forms, json=contract.DEFINITION)
    form_id = created.json()["data"]["id"]
    one = f"{forms}/{{form_id}}"
    await call("GET", forms, forms)
    await call("GET", one, f"{forms}/{form_id}")
    assert (await call("GET", one, f"{forms}/nope")).status_code == 404
    replaced = {**contract.DEFINITION, "expectedVersion": 1}
    await call("PUT", one, f"{forms}/{form_id}", json=replaced)
    assert (await call("PUT", one, f"{forms}/{form_id}", json=replaced)).status_code == 409

    submissions = "/v1/submissions/submissions"
    body = {"formId": form_id, "data": {"name": "Ada", "email": "ada@example.com"}}
    key = {"Idempotency-Key": "k-1"}
    stored = await call("POST", submissions, submissions, json=body, headers=key)
    assert (await call("POST", submissions, submissions, json=body, headers=key)).status_code == 200
    wrong = {"formId": form_id, "data": {"name": "A", "age": 3}}
    assert (await call("POST", submissions, submissions, json=wrong)).status_code == 400
    await call("GET", submissions, f"{submissions}?formId={form_id}")
    await call(
        "GET", f"{submissions}/{{submission_id}}", f"{submissions}/{stored.json()['data']['id']}"
    )
    csv = f"{forms}/{{form_id}}/submissions.csv"
    await call("GET", csv, f"{forms}/{form_id}/submissions.csv")
    await call("DELETE", one, f"{forms}/{form_id}")
    assert (await call("POST", submissions, submissions, json=body)).status_code == 409

    notifications = "/v1/notifications"
    await call("GET", notifications, notifications)
    retry = f"{notifications}/{{notification_id}}/retry"
    assert (await call("POST", retry, f"{notifications}/n-1/retry")).status_code == 404
    await call("GET", "/health", "/health")
    refused = await client.request("PATCH", events)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    assert refused.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    several = await client.request("OPTIONS", f"{forms}/{form_id}")
    assert several.status_code == 405
    assert several.headers["allow"] == "DELETE, GET, PUT"
