"""``/v1/public/forms/{id}``: what respondents use without a key, for forms that say ``public``.

A private or unknown form is 404 on both routes, so the routes do not tell which private forms
exist. Submissions are limited per client address (``PLIERS_PUBLIC_RATE_LIMIT``); CORS for the
form's own origins is :mod:`pliers.api.cors`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from pliers.api.deps import require_json, runtime
from pliers.api.envelope import ok
from pliers.api.limits import client_address
from pliers.errors import FormNotFound, RateLimited
from pliers.forms.definition import is_public
from pliers.forms.records import FormRecord
from pliers.runtime import Runtime
from pliers.submissions.model import NewSubmission

router = APIRouter(prefix="/v1/public", tags=["public"], dependencies=[Depends(require_json)])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


class PublicSubmission(BaseModel):
    """``{"data", "metadata"?}``: who submitted is the public, not something a respondent says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)


async def public_form(rt: Runtime, form_id: str) -> FormRecord:
    """The form when it is public; a private form is not found, like an unknown id."""
    form = await rt.forms.get(form_id)
    if not is_public(form.body):
        raise FormNotFound(f"form {form_id!r} not found")
    return form


async def count_submission(rt: Runtime, request: Request) -> None:
    """Count one public submission from the request's client (the hosted form page's too);
    past ``PLIERS_PUBLIC_RATE_LIMIT``, :class:`RateLimited`."""
    verdict = await rt.public_rate_limit.hit(client_address(request.scope))
    if not verdict.allowed:
        raise RateLimited(
            f"too many submissions from this address; try again in {verdict.retry_after} s",
            retry_after=verdict.retry_after,
        )


@router.get("/forms/{form_id}", summary="A public form: what a respondent needs to fill it in")
async def read_public_form(form_id: str, rt: RuntimeDep) -> Response:
    return ok((await public_form(rt, form_id)).to_public())


@router.post(
    "/forms/{form_id}/submissions",
    status_code=201,
    summary="Submit to a public form, without a key (rate limited per client address)",
)
async def submit_public_form(
    form_id: str, body: PublicSubmission, rt: RuntimeDep, request: Request
) -> Response:
    await count_submission(rt, request)
    await public_form(rt, form_id)
    submission = NewSubmission(form_id=form_id, data=body.data, metadata=body.metadata)
    accepted = await rt.submissions.create(
        submission, idempotency_key=request.headers.get("idempotency-key")
    )
    if accepted.created:
        return ok(accepted.submission, 201)
    response = ok(accepted.submission, 200)
    response.headers["Idempotent-Replayed"] = "true"
    return response
