"""HTTP routes of the Form Engine (the doubled path segments are the seed's)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from starlette.responses import Response, StreamingResponse

from pliers.api.auth import requires
from pliers.api.deps import require_json, runtime
from pliers.api.envelope import ok
from pliers.runtime import Runtime

router = APIRouter(prefix="/v1/forms", tags=["forms"], dependencies=[Depends(require_json)])
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Definition = Annotated[dict[str, Any], Body()]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/forms", status_code=201, summary="Create a form")
@requires("forms:write")
async def create_form(body: Definition, rt: RuntimeDep) -> Response:
    return ok(await rt.forms.create(body), 201)


@router.get("/forms", summary="List forms in creation order")
@requires("forms:read")
async def list_forms(
    rt: RuntimeDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    status: Literal["active", "archived"] | None = None,
) -> Response:
    return ok(await rt.forms.list_forms(limit=limit, cursor=cursor, status=status))


@router.get("/forms/{form_id}", summary="Read a form, or one of its versions")
@requires("forms:read")
async def get_form(
    form_id: str,
    rt: RuntimeDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    form = await rt.forms.get(form_id, version)
    return ok(form.to_wire())


@router.put("/forms/{form_id}", summary="Replace a form's definition (a new version)")
@requires("forms:write")
async def update_form(form_id: str, body: Definition, rt: RuntimeDep) -> Response:
    return ok(await rt.forms.update(form_id, body))


@router.delete("/forms/{form_id}", summary="Archive a form")
@requires("forms:write")
async def archive_form(form_id: str, rt: RuntimeDep) -> Response:
    return ok(await rt.forms.archive(form_id))


@router.get(
    "/forms/{form_id}/submissions.csv",
    summary="Every submission of a form as CSV",
    response_class=StreamingResponse,
)
@requires("submissions:read")
async def export_submissions(form_id: str, rt: RuntimeDep) -> Response:
    chunks = await rt.submissions.export_csv(form_id)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="form-{form_id}-submissions.csv"'},
    )
