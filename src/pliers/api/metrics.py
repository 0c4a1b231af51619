"""``GET /metrics``: the Prometheus exposition of every worker's metrics (see pliers.metrics)."""

from __future__ import annotations

import asyncio
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
        await sample(rt)  # this worker's view, fresh; the others sample on their own
    except Exception as e:  # a slow or absent database must not hide the rest of the metrics
        log.warning("metrics: sampling the store failed: %s", e)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


async def sample(runtime: Runtime) -> None:
    """Read what is measured by looking, not by counting: pool use, stream lag, outbox depth."""
    pool = getattr(runtime.store, "pool", None)
    if pool is not None:
        size, idle = pool.get_size(), pool.get_idle_size()
        metrics.DB_POOL_CONNECTIONS.labels("in_use").set(size - idle)
        metrics.DB_POOL_CONNECTIONS.labels("idle").set(idle)
        metrics.DB_POOL_CONNECTIONS.labels("max").set(pool.get_max_size())
    metrics.STREAM_SUBSCRIPTIONS.set(runtime.hub.subscription_count)
    async with asyncio.timeout(metrics.SAMPLE_TIMEOUT):
        head = await runtime.store.head_position()
        read = runtime.hub.position
        metrics.STREAM_LAG.set(max(0, head - read) if read is not None else 0)
        if runtime.notifications is not None:
            depth = await runtime.notifications.depth()
            for status in metrics.STATUSES:
                metrics.OUTBOX_NOTIFICATIONS.labels(status).set(depth.get(status, 0))


async def sample_forever(runtime: Runtime, every: float) -> None:
    """Keep this worker's sampled gauges fresh, so a scrape served by another worker sees them."""
    while True:
        try:
            await sample(runtime)
        except Exception as e:  # a metric must never take the server down; the store recovers
            log.debug("sampling metrics failed: %s", e)
        await asyncio.sleep(every)
