"""HTTP routes of the Event Engine (the doubled path segments are the seed's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from pliers.api.auth import requires
from pliers.api.deps import require_json, runtime
from pliers.api.envelope import ok
from pliers.events.model import (
    ID_PATTERN,
    MAX_BIGINT,
    BatchRequest,
    PublishRequest,
    QueryRequest,
)
from pliers.runtime import Runtime

router = APIRouter(prefix="/v1/events", tags=["events"], dependencies=[Depends(require_json)])
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Sequence_ = Annotated[int | None, Query(ge=0, le=MAX_BIGINT)]


@router.post("/events", status_code=201, summary="Append one event")
@requires("events:write")
async def publish(body: PublishRequest, rt: RuntimeDep) -> Response:
    [result] = await rt.events.publish([body.event])
    return ok(result.to_wire(), 200 if result.duplicate else 201)


@router.post("/events/batch", status_code=201, summary="Append up to 1,000 events atomically")
@requires("events:write")
async def publish_batch(body: BatchRequest, rt: RuntimeDep) -> Response:
    results = await rt.events.publish(body.events)
    duplicate = bool(results) and results[0].duplicate
    data = {"events": [r.to_wire() for r in results], "count": len(results)}
    if duplicate:
        data["duplicate"] = True
    return ok(data, 200 if duplicate else 201)


@router.get("/events/aggregates/{aggregate_id}", summary="Read an aggregate's events in order")
@requires("events:read")
async def read_aggregate(
    aggregate_id: Annotated[str, Path(min_length=1, max_length=255, pattern=ID_PATTERN)],
    rt: RuntimeDep,
    from_sequence: Annotated[Sequence_, Query(alias="fromSequence")] = None,
    to_sequence: Annotated[Sequence_, Query(alias="toSequence")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    events = await rt.store.read_aggregate_json(
        aggregate_id, from_sequence=from_sequence, to_sequence=to_sequence, limit=limit
    )
    body = b'{"success":true,"data":{"events":' + events.encode() + b"}}"
    return Response(body, media_type="application/json")


@router.post("/events/query", summary="Query events by filters, in position order")
@requires("events:read")
async def query(body: QueryRequest, rt: RuntimeDep) -> Response:
    page = await rt.store.query(body.query)
    return ok(page.to_wire())
