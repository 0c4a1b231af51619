"""The console at ``/console``: forms, their submissions and notifications, and live events.

Every page reads through the same services as the API and checks the signed-in key's scopes
(see :mod:`pliers.web.access`); a page never shows an action the key may not take, and the
action checks the scope again.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, WebSocket
from starlette.responses import RedirectResponse, Response, StreamingResponse

from pliers.api.stream import stream
from pliers.errors import NotificationNotFound, ServiceUnavailable, Unauthorized
from pliers.events.model import ID_PATTERN
from pliers.notifications.outbox import NotificationOutbox
from pliers.runtime import Runtime
from pliers.web import access
from pliers.web.access import Viewer
from pliers.web.pages import render

router = APIRouter(prefix="/console", include_in_schema=False)
ViewerDep = Annotated[Viewer, Depends(access.viewer_of)]
Cursor = Annotated[str | None, Query(max_length=200)]
PAGE_SIZE = 25
#: Event types the live view offers in its filter (any other can be typed in).
KNOWN_TYPES = (
    "submission.created",
    "form.created",
    "form.updated",
    "form.archived",
    "notification.sent",
    "notification.failed",
)


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _page(
    request: Request,
    viewer: Viewer,
    template: str,
    context: dict[str, Any],
    *,
    section: str,
    status_code: int = 200,
) -> Response:
    response = render(
        request,
        template,
        {
            **context,
            "viewer": viewer,
            "section": section,
            "csrf": access.csrf_token(request),
        },
        status_code=status_code,
        referrer_policy="same-origin",
        private=True,
    )
    access.keep_cookies(request, response)
    return response


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("")
async def forms_list(request: Request, viewer: ViewerDep, cursor: Cursor = None) -> Response:
    viewer.require("forms:read")
    found = await _rt(request).forms.list_forms(limit=PAGE_SIZE, cursor=cursor, status=None)
    return _page(request, viewer, "console/forms.html", found, section="forms")


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    if not await access.authentication_on(_rt(request)):
        return _see_other("/console")
    return _sign_in(request)


def _sign_in(request: Request, problem: str | None = None, status_code: int = 200) -> Response:
    response = render(
        request,
        "console/sign_in.html",
        {"csrf": access.csrf_token(request), "problem": problem},
        status_code=status_code,
        referrer_policy="same-origin",
        private=True,
    )
    access.keep_cookies(request, response)
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    rt = _rt(request)
    if not await access.authentication_on(rt):
        return _see_other("/console")
    posted = await request.form()
    access.check_csrf(request, posted.get(access.CSRF_FIELD))
    secret = posted.get("key")
    found = await access.resolve(rt, secret.strip()) if isinstance(secret, str) else None
    if found is None or not isinstance(secret, str):
        return _sign_in(request, "That key is unknown, revoked or expired.", 401)
    response = _see_other("/console")
    access.keep_cookies(request, response, session=secret.strip())
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    posted = await request.form()
    access.check_csrf(request, posted.get(access.CSRF_FIELD))
    response = _see_other("/console/sign-in")
    access.forget(response)
    return response


@router.get("/forms/{form_id}")
async def form_detail(
    form_id: str, request: Request, viewer: ViewerDep, cursor: Cursor = None
) -> Response:
    viewer.require("forms:read")
    rt = _rt(request)
    form = await rt.forms.get(form_id)
    versions = await rt.forms.records.form_versions(form.id)
    context: dict[str, Any] = {
        "form": form,
        "definition": json.dumps(form.to_wire(), indent=2, ensure_ascii=False),
        "versions": list(reversed(versions)),
        "columns": [f["name"] for f in form.body["fields"]],
        "submissions": None,
        "cursor": cursor,
    }
    if viewer.may("submissions:read"):
        context["submissions"] = await rt.submissions.list_submissions(
            form_id=form.id, limit=PAGE_SIZE, cursor=cursor
        )
    return _page(request, viewer, "console/form.html", context, section="forms")


@router.get("/forms/{form_id}/submissions.csv")
async def form_csv(form_id: str, request: Request, viewer: ViewerDep) -> Response:
    viewer.require("submissions:read")
    rt = _rt(request)
    chunks = await rt.submissions.export_csv(form_id)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="form-{form_id}-submissions.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _outbox(rt: Runtime) -> NotificationOutbox:
    if rt.notifications is None:
        raise ServiceUnavailable("notifications are not available in this process")
    return rt.notifications


@router.get("/notifications")
async def notifications(
    request: Request,
    viewer: ViewerDep,
    status: Literal["queued", "sending", "sent", "failed"] | None = None,
    form_id: Annotated[
        str | None, Query(alias="formId", max_length=255, pattern=ID_PATTERN)
    ] = None,
    done: Annotated[str | None, Query(max_length=255, pattern=ID_PATTERN)] = None,
) -> Response:
    viewer.require("notifications:read")
    found = await _outbox(_rt(request)).list(
        submission_id=None, form_id=form_id or None, status=status, limit=100
    )
    context = {
        "notifications": [n.to_wire() for n in found],
        "status": status,
        "form_id": form_id,
        "done": done,
    }
    return _page(request, viewer, "console/notifications.html", context, section="notifications")


@router.post("/notifications/{notification_id}/retry")
async def retry(notification_id: str, request: Request, viewer: ViewerDep) -> Response:
    viewer.require("notifications:write")
    posted = await request.form()
    access.check_csrf(request, posted.get(access.CSRF_FIELD))
    outbox = _outbox(_rt(request))
    if len(notification_id) > 255 or re.fullmatch(ID_PATTERN, notification_id) is None:
        raise NotificationNotFound(f"notification {notification_id!r} does not exist")
    await outbox.retry(notification_id)
    return _see_other(f"/console/notifications?done={notification_id}")


@router.get("/events")
async def live_events(
    request: Request,
    viewer: ViewerDep,
    types: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    viewer.require("events:read")
    chosen = [t.strip() for t in (types or "").split(",") if t.strip()]
    context = {
        "types": ",".join(chosen),
        "known_types": KNOWN_TYPES,
        "head": await _rt(request).store.head_position(),
    }
    return _page(request, viewer, "console/events.html", context, section="events")


@router.websocket("/stream")
async def console_stream(websocket: WebSocket) -> None:
    """The live stream for the console's page, signed in by its session cookie.

    The page's script never holds the key: the browser sends the cookie with the upgrade. A
    browser sends cookies with an upgrade that another site's page asks for too, so the upgrade
    must come from the console's own origin.
    """
    origin = websocket.headers.get("origin")
    expected = f"{'https' if websocket.url.scheme == 'wss' else 'http'}://{websocket.url.netloc}"
    if origin != expected:
        await websocket.close(1008, "cross-origin upgrade refused")
        return
    try:
        await access.viewer_of(websocket)  # sets the principal the stream checks
    except Unauthorized:
        await websocket.close(1008, "sign in first")
        return
    await stream(websocket)  # as the viewer: the stream checks events:read itself
