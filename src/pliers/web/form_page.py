"""The hosted form page: ``GET /f/{formId}`` shows a public form, ``POST`` takes its answers.

The page works without script: the browser posts the HTML form here, and the answer is the
thank-you page or the form again with the server's message next to each field and the answers
kept. With script, ``form.js`` posts JSON to the public submission route instead. Both send the
page's idempotency key, made when the page was drawn, so a double click or a resent POST stores
one submission. Submissions go through the submission service, checked like any other, under
the public route's rate limit; the events they write record ``public`` as their actor (the
authentication middleware acts as the public on these paths).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from pliers.api.public import count_submission, public_form
from pliers.errors import FormArchived, IdempotencyKeyReused, ValidationError
from pliers.forms.definition import ANY_ORIGIN, allowed_origins
from pliers.forms.records import FormRecord
from pliers.runtime import Runtime
from pliers.submissions.model import NewSubmission
from pliers.submissions.service import check_idempotency_key
from pliers.web import fields
from pliers.web.pages import render

router = APIRouter(include_in_schema=False)

#: Names of the page's own hidden controls. A field name is an identifier, so no field can
#: take a name with a dot.
KEY_FIELD = "pliers.key"


@router.get("/f/{form_id}")
async def form_page(form_id: str, request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    form = await public_form(rt, form_id)
    if form.status == "archived":
        return _closed(request, form)
    return _page(request, rt, form)


@router.post("/f/{form_id}")
async def submit_form_page(form_id: str, request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    await count_submission(rt, request)  # one limit for the page and the public route
    form = await public_form(rt, form_id)
    if form.status == "archived":
        return _closed(request, form)
    posted = await request.form()
    answers = {name: [v for v in posted.getlist(name) if isinstance(v, str)] for name in posted}
    schema = rt.forms.schema(form)
    data = fields.answers_from_form(schema, answers)
    key = _key(answers.get(KEY_FIELD, []))
    # The page is the error display here: a refused answer is drawn as the form with its
    # problems, not as an error response, so these errors are caught rather than raised.
    try:
        await rt.submissions.create(NewSubmission(form_id=form.id, data=data), idempotency_key=key)
    except ValidationError as e:
        errors, problems = _by_field(e.details or [], {c for c in schema.fields})
        return _page(request, rt, form, answers, errors, problems, key=key, status_code=400)
    except IdempotencyKeyReused:
        message = (
            "These answers differ from the ones already sent from this page. "
            "Reload the page to send a new response."
        )
        return _page(request, rt, form, answers, {}, [message], status_code=409)
    except FormArchived:
        return _closed(request, form)
    return _page(request, rt, form, done=True)


def _frame_ancestors(form: FormRecord) -> str:
    """Pages of the form's allowed origins may show it in a frame; no other page may."""
    origins = allowed_origins(form.body)
    if ANY_ORIGIN in origins:
        return "*"
    return " ".join(origins) or "'none'"


def _page(
    request: Request,
    rt: Runtime,
    form: FormRecord,
    values: dict[str, list[str]] | None = None,
    errors: dict[str, list[str]] | None = None,
    problems: list[str] | None = None,
    *,
    key: str | None = None,
    done: bool = False,
    status_code: int = 200,
) -> Response:
    schema = rt.forms.schema(form)
    context: dict[str, Any] = {
        "form": form,
        "controls": fields.controls(form.body, schema),
        "schema": fields.script_schema(schema),
        "values": values or {},
        "errors": errors or {},
        "problems": problems or [],
        "idempotency_key": key or _new_key(),
        "done": done,
    }
    return render(
        request,
        "form.html",
        context,
        status_code=status_code,
        frame_ancestors=_frame_ancestors(form),
    )


def _closed(request: Request, form: FormRecord) -> Response:
    return render(request, "closed.html", {"form": form}, status_code=410)


def _by_field(
    details: list[dict[str, str]], names: set[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Problems next to their field; those of no field (the key, the body) go above the form."""
    errors: dict[str, list[str]] = {}
    problems: list[str] = []
    for d in details:
        name = d.get("field", "")
        if name in names:
            errors.setdefault(name, []).append(d.get("message", "invalid answer"))
        else:
            problems.append(d.get("message", "invalid answer"))
    if errors:
        count = len(errors)
        said = f"{count} answers need" if count > 1 else "1 answer needs"
        problems.insert(0, f"{said} a change; see below.")
    return errors, problems


def _key(posted: list[str]) -> str:
    """The page's idempotency key as posted, or a new one when it is missing or malformed."""
    if posted:
        try:
            check_idempotency_key(posted[0])
        except ValidationError:
            return _new_key()
        return posted[0]
    return _new_key()


def _new_key() -> str:
    return "page-" + secrets.token_urlsafe(24)
