"""A hot route's request with a key the server remembers is served in one coroutine
(:class:`pliers.api.fast.HotPath`) that does what the middleware do: the same answers, headers,
access line and metrics, the same refusals, and the 500 envelope for an unexpected error."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from access_log import access_lines
from fastapi import FastAPI
from keys_helpers import bearer, make_key

from pliers import metrics
from pliers.api.fast import HotPath
from pliers.keys.model import Principal
from pliers.keys.service import KeyService
from pliers.runtime import Runtime

pytestmark = pytest.mark.integration


class Seen(list[Principal | None]):
    """What the hot path learned of each key it was shown (None: it left the request to the
    middleware), and whether the server follows key changes yet."""

    def __init__(self) -> None:
        super().__init__()
        self.following = asyncio.Event()


@pytest.fixture
def remembered(monkeypatch: pytest.MonkeyPatch) -> Seen:
    seen = Seen()
    real, listening = KeyService.remembered, KeyService.listening

    def recording(self: KeyService, secret: str | None) -> Principal | None:
        found = real(self, secret)
        seen.append(found)
        return found

    def heard(self: KeyService) -> None:
        listening(self)
        seen.following.set()

    monkeypatch.setattr(KeyService, "remembered", recording)
    monkeypatch.setattr(KeyService, "listening", heard)
    return seen


async def until_remembered(
    http: httpx.AsyncClient, runtime: Runtime, remembered: Seen, *keys: dict[str, Any]
) -> None:
    """Read with each of ``keys`` until the server remembers them all. On PostgreSQL the first
    lookup of a key starts following key changes, which empties what was remembered once it
    listens: wait for that first."""
    for key in keys:
        await http.get("/v1/events/events/aggregates/warm-up", headers=bearer(key["key"]))
    if runtime.store.backend == "postgres":
        await asyncio.wait_for(remembered.following.wait(), 10)
    for _ in range(50):
        for key in keys:
            await http.get("/v1/events/events/aggregates/warm-up", headers=bearer(key["key"]))
        if all(remembered[-len(keys) :]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the keys were never remembered")


def requests_counted(route: str, status: int) -> float:
    value: float = metrics.HTTP_REQUESTS.labels("POST", route, str(status))._value.get()
    return value


async def test_the_app_serves_hot_routes_through_a_hot_path(secured_app: FastAPI) -> None:
    secured_app.build_middleware_stack()
    _, _, hot = secured_app._hot  # type: ignore[attr-defined]
    assert isinstance(hot, HotPath)


async def test_a_remembered_key_is_answered_as_the_middleware_answer(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    remembered: Seen,
    secured: Runtime,
) -> None:
    key = await make_key(http, admin, ["events:write", "events:read"])
    headers = bearer(key["key"])
    first = {"type": "hot.first", "aggregateId": "hot-1"}
    assert (await http.post("/v1/events/events", json={"event": first}, headers=headers)).is_success
    assert remembered[-1] is None  # the first request of a key asks the store
    await until_remembered(http, secured, remembered, key)

    counted = requests_counted("/v1/events/events", 201)
    answers: list[httpx.Response] = []

    async def publish() -> None:
        answers.append(
            await http.post(
                "/v1/events/events",
                json={"event": {"type": "hot.second", "aggregateId": "hot-1"}},
                headers={**headers, "X-Request-ID": "hot-request-1"},
            )
        )

    [line] = await access_lines(publish)
    [answer] = answers

    hot = remembered[-1]
    assert hot is not None
    assert hot.actor == key["id"]
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == "hot-request-1"
    assert answer.json()["data"]["sequenceNumber"] == 2
    assert (line["status"], line["key_id"], line["route"]) == (201, key["id"], "/v1/events/events")
    assert line["request_id"] == "hot-request-1"
    assert requests_counted("/v1/events/events", 201) == counted + 1
    read = await http.get("/v1/events/events/aggregates/hot-1", headers=headers)
    stored = read.json()["data"]["events"][1]
    assert stored["metadata"]["actor"] == key["id"]
    assert stored["correlationId"] == "hot-request-1"
    assert key["key"] not in json.dumps(line)


async def test_the_hot_path_refuses_what_the_middleware_refuse(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    remembered: Seen,
    secured: Runtime,
) -> None:
    writer = await make_key(http, admin, ["events:write", "events:read"])
    reader = await make_key(http, admin, ["events:read"])
    await until_remembered(http, secured, remembered, writer, reader)
    remembered.clear()

    async def publish(body: Any, key: dict[str, Any]) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await http.post(
            "/v1/events/events",
            content=content,
            headers={**bearer(key["key"]), "content-type": "application/json"},
        )

    deep: Any = "x"
    for _ in range(200):
        deep = {"a": deep}
    answers = {
        "too large": await publish(b'{"event": "' + b"x" * (2 * 1024 * 1024) + b'"}', writer),
        "too deep": await publish({"event": deep}, writer),
        "invalid": await publish({"event": {"type": "Bad", "aggregateId": "hot-2"}}, writer),
        "not json": await publish(b'{"event": ', writer),
        "unscoped": await publish({"event": {"type": "hot.x", "aggregateId": "hot-2"}}, reader),
    }

    assert all(found is not None for found in remembered)  # each took the hot path
    statuses = {name: (r.status_code, r.json()["error"]["code"]) for name, r in answers.items()}
    assert statuses == {
        "too large": (413, "PAYLOAD_TOO_LARGE"),
        "too deep": (400, "VALIDATION_ERROR"),
        "invalid": (400, "VALIDATION_ERROR"),
        "not json": (400, "INVALID_JSON"),
        "unscoped": (403, "FORBIDDEN"),
    }
    assert all(r.headers.get("x-request-id") for r in answers.values())
    assert answers["invalid"].json()["error"]["details"][0]["field"] == "event.type"
    read = await http.get("/v1/events/events/aggregates/hot-2", headers=bearer(reader["key"]))
    assert read.json()["data"]["events"] == []


async def test_a_key_revoked_after_it_was_remembered_is_refused(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    key = await make_key(http, admin, ["events:write"])
    event = {"event": {"type": "hot.revoked", "aggregateId": "hot-3"}}
    ok = await http.post("/v1/events/events", json=event, headers=bearer(key["key"]))
    assert ok.status_code == 201
    assert (await http.delete(f"/v1/keys/{key['id']}", headers=admin)).is_success

    refused = await http.post("/v1/events/events", json=event, headers=bearer(key["key"]))

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"


async def test_an_unexpected_error_on_the_hot_path_is_the_500_envelope(
    secured: Runtime,
    admin: dict[str, str],
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = await make_key(http, admin, ["events:write"])
    event = {"event": {"type": "hot.boom", "aggregateId": "hot-4"}}
    headers = bearer(key["key"])
    assert (await http.post("/v1/events/events", json=event, headers=headers)).status_code == 201

    async def broken(*_: object) -> None:
        raise RuntimeError("a bug in a hot route")

    with monkeypatch.context() as patched:
        patched.setattr(secured.events, "publish", broken)
        failed = await http.post("/v1/events/events", json=event, headers=headers)
    again = await http.post("/v1/events/events", json=event, headers=headers)

    assert failed.status_code == 500
    assert failed.json() == {
        "success": False,
        "error": {"code": "INTERNAL_ERROR", "message": failed.json()["error"]["message"]},
    }
    assert "a bug" not in failed.text
    assert failed.headers["x-request-id"]
    assert failed.headers.get("connection") != "close"
    assert again.status_code == 201
