"""Every route with no key, a wrong, revoked or expired key, and a key without its scope.

A real server on a socket, on PostgreSQL and on SQLite, authentication on through an admin key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from keys_helpers import bearer, make_key

from pliers.api.auth import is_public, routes
from pliers.keys import SCOPES, ApiKey, Scope, tokens
from pliers.runtime import Runtime
from pliers.testing.factories import FormBuilder

pytestmark = pytest.mark.integration

FORM = FormBuilder().with_name("Auth").with_text_field("name").build()
UNKNOWN_ID = "0000000000000000"


def route_table(form_id: str) -> list[tuple[str, str, Any, Scope]]:
    """(method, path, body, scope) of every route that needs a key."""
    event = {"type": "auth.checked", "aggregateId": f"auth-{uuid.uuid4().hex[:8]}"}
    return [
        ("POST", "/v1/events/events", {"event": event}, "events:write"),
        ("POST", "/v1/events/events/batch", {"events": [event]}, "events:write"),
        ("GET", "/v1/events/events/aggregates/x", None, "events:read"),
        ("POST", "/v1/events/events/query", {"query": {}}, "events:read"),
        ("POST", "/v1/forms/forms", FORM, "forms:write"),
        ("GET", "/v1/forms/forms", None, "forms:read"),
        ("GET", f"/v1/forms/forms/{form_id}", None, "forms:read"),
        ("GET", f"/v1/forms/forms/{form_id}/submissions.csv", None, "submissions:read"),
        ("PUT", f"/v1/forms/forms/{form_id}", FORM, "forms:write"),
        ("DELETE", f"/v1/forms/forms/{form_id}", None, "forms:write"),
        (
            "POST",
            "/v1/submissions/submissions",
            {"formId": form_id, "data": {"name": "Ada"}},
            "submissions:write",
        ),
        ("GET", "/v1/submissions/submissions", None, "submissions:read"),
        ("GET", f"/v1/submissions/submissions/{UNKNOWN_ID}", None, "submissions:read"),
        ("GET", "/v1/notifications", None, "notifications:read"),
        ("GET", f"/v1/notifications/{UNKNOWN_ID}", None, "notifications:read"),
        ("POST", f"/v1/notifications/{UNKNOWN_ID}/retry", None, "notifications:write"),
        ("POST", "/v1/keys", {"name": "n", "scopes": ["keys:manage"]}, "keys:manage"),
        ("GET", "/v1/keys", None, "keys:manage"),
        ("DELETE", f"/v1/keys/{UNKNOWN_ID}", None, "keys:manage"),
        ("GET", "/metrics", None, "metrics:read"),
    ]


def assert_unauthorized(response: httpx.Response, what: str) -> None:
    assert response.status_code == 401, (what, response.status_code, response.text)
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNAUTHORIZED"


async def stored_key(runtime: Runtime, scopes: tuple[str, ...], **fields: Any) -> str:
    """A key written straight to the store (to make one that is already expired)."""
    key_id = tokens.new_id()
    secret = tokens.new_secret(key_id)
    await runtime.adapters.keys.insert(
        ApiKey(
            id=key_id,
            name="stored",
            scopes=scopes,
            digest=tokens.digest(secret),
            created_at=datetime.now(UTC) - timedelta(days=2),
            **fields,
        )
    )
    return secret


def test_the_table_names_every_route_that_needs_a_key(secured_app: FastAPI) -> None:
    """A new route must say which scope it needs (``@requires``) or be public."""
    declared = {(m, p) for m, p, _, _ in route_table("{form_id}")}
    found = set()
    for route in routes(secured_app):
        path = route.path_format or ""
        if is_public(path):
            continue
        scope = getattr(route.endpoint, "pliers_scope", None)
        assert scope is not None, f"{path} declares no scope and is not public"
        for method in getattr(route, "methods", None) or {"GET"}:
            if method != "HEAD":  # Starlette adds it to every GET route
                found.add((method, path))
    normalised = {
        (m, p.replace(UNKNOWN_ID, "{id}").replace("{form_id}", "{id}")) for m, p in declared
    }
    generic = {
        (m, p.replace("{form_id}", "{id}").replace("{submission_id}", "{id}"))
        for m, p in found
        if p != "/v1/events/stream"
    }
    generic = {
        (m, p.replace("{notification_id}", "{id}").replace("{key_id}", "{id}")) for m, p in generic
    }
    generic = {(m, p.replace("{aggregate_id}", "x")) for m, p in generic}
    assert generic == normalised


async def test_every_route_refuses_missing_wrong_revoked_expired_and_unscoped_keys(
    http: httpx.AsyncClient, admin: dict[str, str], secured: Runtime
) -> None:
    created = await http.post("/v1/forms/forms", json=FORM, headers=admin)
    assert created.status_code == 201, created.text
    form_id = created.json()["data"]["id"]

    revoked = await make_key(http, admin, list(SCOPES))
    assert (await http.delete(f"/v1/keys/{revoked['id']}", headers=admin)).status_code == 200
    expired = await stored_key(secured, SCOPES, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    unknown = tokens.new_secret(tokens.new_id())
    wrong_secret = revoked["key"][:-4] + "AAAA"  # a known key id with another secret
    lacking = {
        scope: (await make_key(http, admin, [s for s in SCOPES if s != scope]))["key"]
        for scope in SCOPES
    }
    having = {scope: (await make_key(http, admin, [scope]))["key"] for scope in SCOPES}

    for method, path, body, scope in route_table(form_id):
        what = f"{method} {path}"

        async def call(
            headers: dict[str, str] | None, m: str = method, p: str = path, b: Any = body
        ) -> httpx.Response:
            return await http.request(m, p, json=b, headers=headers)

        assert_unauthorized(await call(None), f"{what} without a key")
        assert_unauthorized(await call(bearer("not-a-key")), f"{what} with garbage")
        assert_unauthorized(await call(bearer(unknown)), f"{what} with an unknown key")
        assert_unauthorized(await call(bearer(wrong_secret)), f"{what} with a wrong secret")
        assert_unauthorized(await call(bearer(revoked["key"])), f"{what} with a revoked key")
        assert_unauthorized(await call(bearer(expired)), f"{what} with an expired key")
        assert_unauthorized(
            await call({"Authorization": f"Basic {having[scope]}"}), f"{what}, not Bearer"
        )

        forbidden = await call(bearer(lacking[scope]))
        assert forbidden.status_code == 403, (what, forbidden.text)
        assert forbidden.json()["error"]["code"] == "FORBIDDEN"
        assert scope in forbidden.json()["error"]["message"]

        allowed = await call(bearer(having[scope]))
        assert allowed.status_code not in (401, 403), (what, allowed.text)


async def test_health_and_docs_need_no_key(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).status_code == 200
    schema = (await http.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiKey"]["description"],
    }
    assert schema["paths"]["/v1/events/events"]["post"]["security"] == [
        {"apiKey": ["events:write"]}
    ]
    assert (await http.get("/docs")).status_code == 200


async def test_an_unknown_path_needs_a_key_too(http: httpx.AsyncClient) -> None:
    assert_unauthorized(await http.get("/v1/secret-things"), "unknown path")


async def test_a_key_is_shown_once_and_listed_without_its_secret(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    created = await make_key(http, admin, ["events:read"], expiresAt=expires)
    assert set(created) == {"id", "name", "scopes", "key", "createdAt", "expiresAt"}
    assert created["key"].startswith("plk_")
    assert created["expiresAt"] is not None
    listed = (await http.get("/v1/keys", headers=admin)).json()["data"]["keys"]
    [mine] = [k for k in listed if k["id"] == created["id"]]
    assert "key" not in mine
    assert created["key"] not in str(listed)
    assert mine["revokedAt"] is None
    revoked = (await http.delete(f"/v1/keys/{created['id']}", headers=admin)).json()["data"]
    assert revoked["revokedAt"] is not None


async def test_secrets_are_not_in_the_database_in_clear(
    http: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    created = await make_key(http, admin, ["events:read"])
    secret = created["key"]
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        files = (path, path.with_name(path.name + "-wal"))
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert secret.encode() not in raw
        assert created["id"].encode() in raw  # the row is there: this read can see it
        return
    conn = await asyncpg.connect(database_url)
    try:
        dump = await conn.fetchval("SELECT string_agg(t::text, '|') FROM api_keys t")
    finally:
        await conn.close()
    assert created["id"] in dump
    assert secret not in dump
    assert secret.split("_", 2)[2] not in dump
    assert tokens.digest(secret) in dump


async def test_bad_key_requests_are_400_and_store_nothing(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for body in (
        {"name": "x", "scopes": ["events:everything"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["events:read"]},
        {"name": "x", "scopes": ["events:read"], "expiresAt": "2020-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["events:read"], "expiresAt": "tomorrow"},
        {"name": "x", "scopes": ["events:read"], "role": "admin"},
    ):
        response = await http.post("/v1/keys", json=body, headers=admin)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await http.get("/v1/keys", headers=admin)).json()["data"]["keys"] == []


async def test_a_key_cannot_grant_scopes_it_lacks(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    manager = await make_key(http, admin, ["keys:manage", "events:read"])
    refused = await http.post(
        "/v1/keys",
        json={"name": "escalate", "scopes": ["submissions:read"]},
        headers=bearer(manager["key"]),
    )
    assert refused.status_code == 403
    assert "submissions:read" in refused.json()["error"]["message"]
    allowed = await http.post(
        "/v1/keys",
        json={"name": "reader", "scopes": ["events:read"]},
        headers=bearer(manager["key"]),
    )
    assert allowed.status_code == 201


async def test_revoking_an_unknown_key_is_404(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for key_id in (UNKNOWN_ID, "not-an-id"):
        response = await http.delete(f"/v1/keys/{key_id}", headers=admin)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "KEY_NOT_FOUND"
