"""The access line names the key a request acted with (its id, never its secret)."""

from __future__ import annotations

import json

import httpx
import pytest
from access_log import access_lines
from keys_helpers import bearer, make_key

pytestmark = pytest.mark.integration


async def test_a_request_with_a_key_names_the_key(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    key = await make_key(http, admin, ["events:write", "forms:read"])
    event = {"type": "access.logged", "aggregateId": "access-1"}

    [published] = await access_lines(
        lambda: http.post("/v1/events/events", json={"event": event}, headers=bearer(key["key"]))
    )
    [listed] = await access_lines(lambda: http.get("/v1/forms/forms", headers=bearer(key["key"])))

    assert (published["status"], published["key_id"]) == (201, key["id"])
    assert (listed["status"], listed["key_id"]) == (200, key["id"])
    assert key["key"] not in json.dumps([published, listed])


async def test_a_request_without_a_key_names_none(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    [refused] = await access_lines(lambda: http.get("/v1/forms/forms"))
    [wrong] = await access_lines(lambda: http.get("/v1/forms/forms", headers=bearer("plk_wrong")))
    [health] = await access_lines(lambda: http.get("/health"))

    assert refused["status"] == wrong["status"] == 401
    assert health["status"] == 200
    assert all("key_id" not in line for line in (refused, wrong, health))
