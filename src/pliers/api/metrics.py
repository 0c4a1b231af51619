"""``GET /metrics``: the Prometheus exposition of every worker's metrics (see pliers.metrics)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from pliers import metrics
from pliers.api.auth import requires
from pliers.api.deps import runtime
from pliers.runtime import Runtime

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)


@router.get("/metrics", summary="Prometheus metrics of every worker", response_class=Response)
@requires("metrics:read")
async def read_metrics(rt: Annotated[Runtime, Depends(runtime)]) -> Response:
    try:
        await metrics.sample(rt)  # this worker's view, fresh; the others sample on their own
    except Exception as e:  # a slow or absent database must not hide the rest of the metrics
        log.warning("metrics: sampling the store failed: %s", e)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
