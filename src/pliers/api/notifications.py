"""HTTP routes of the notification outbox: what was sent for a submission, and retrying."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from pliers.api.auth import requires
from pliers.api.deps import require_json, runtime
from pliers.api.envelope import ok
from pliers.errors import NotificationNotFound, ServiceUnavailable
from pliers.events.model import ID_PATTERN
from pliers.notifications.outbox import NotificationOutbox, Status
from pliers.runtime import Runtime

router = APIRouter(
    prefix="/v1/notifications", tags=["notifications"], dependencies=[Depends(require_json)]
)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Identifier = Annotated[str, Path(min_length=1, max_length=255, pattern=ID_PATTERN)]
Filter = Annotated[str | None, Query(min_length=1, max_length=255, pattern=ID_PATTERN)]


def _outbox(rt: Runtime) -> NotificationOutbox:
    if rt.notifications is None:  # a runtime assembled without the outbox
        raise ServiceUnavailable("notifications are not available in this process")
    return rt.notifications


@router.get("", summary="List notifications, oldest first")
@requires("notifications:read")
async def list_notifications(
    rt: RuntimeDep,
    submission_id: Annotated[Filter, Query(alias="submissionId")] = None,
    form_id: Annotated[Filter, Query(alias="formId")] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    found = await _outbox(rt).list(
        submission_id=submission_id, form_id=form_id, status=status, limit=limit
    )
    return ok({"notifications": [n.to_wire() for n in found], "count": len(found)})


@router.get("/{notification_id}", summary="One notification")
@requires("notifications:read")
async def get_notification(notification_id: Identifier, rt: RuntimeDep) -> Response:
    found = await _outbox(rt).get(notification_id)
    if found is None:
        raise NotificationNotFound(f"notification {notification_id!r} does not exist")
    return ok(found.to_wire())


@router.post("/{notification_id}/retry", summary="Queue a failed notification again")
@requires("notifications:write")
async def retry_notification(notification_id: Identifier, rt: RuntimeDep) -> Response:
    requeued = await _outbox(rt).retry(notification_id)
    return ok(requeued.to_wire(), 202)
