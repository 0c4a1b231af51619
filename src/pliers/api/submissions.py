"""HTTP routes of the Submission Engine (the doubled path segments are the seed's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from pliers.api.auth import requires
from pliers.api.deps import require_json, runtime
from pliers.api.envelope import ok
from pliers.runtime import Runtime
from pliers.submissions.model import NewSubmission

router = APIRouter(
    prefix="/v1/submissions", tags=["submissions"], dependencies=[Depends(require_json)]
)
RuntimeDep = Annotated[Runtime, Depends(runtime)]


@router.post("/submissions", status_code=201, summary="Submit data to a form")
@requires("submissions:write")
async def create_submission(body: NewSubmission, rt: RuntimeDep, request: Request) -> Response:
    # Read from the request here (the service checks it; pliers.api.contract documents it): as a
    # ``Header`` parameter, FastAPI's handling of it cost about a tenth of a submission's CPU time
    # under load (wrk at concurrency 50).
    key = request.headers.get("idempotency-key")
    accepted = await rt.submissions.create(body, idempotency_key=key)
    if accepted.created:
        return ok(accepted.submission, 201)
    response = ok(accepted.submission, 200)
    response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("/submissions", summary="List submissions in creation order, optionally of one form")
@requires("submissions:read")
async def list_submissions(
    rt: RuntimeDep,
    form_id: Annotated[str | None, Query(alias="formId", min_length=1, max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return ok(await rt.submissions.list_submissions(form_id=form_id, limit=limit, cursor=cursor))


@router.get("/submissions/{submission_id}", summary="Read a submission")
@requires("submissions:read")
async def get_submission(submission_id: str, rt: RuntimeDep) -> Response:
    return ok(await rt.submissions.get(submission_id))
