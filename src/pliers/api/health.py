"""``GET /health``: is the platform able to serve, and what is it running on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from pliers import __version__
from pliers.api.deps import runtime
from pliers.api.envelope import JSONResponse
from pliers.runtime import HealthCheck, Runtime

router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 3.0


async def _run(check: HealthCheck) -> dict[str, Any]:
    started = time.perf_counter()
    # A task waited on, not awaited under asyncio.timeout: a cancelled check still runs its
    # cleanup (giving a connection back to a pool, closing a socket), which can wait on the
    # same hung server; the answer must not wait for it.
    task = asyncio.ensure_future(check())
    done, _ = await asyncio.wait({task}, timeout=CHECK_TIMEOUT)
    if not done:
        task.cancel()
        task.add_done_callback(_retrieve)
        return {"status": "down", "error": f"no answer within {CHECK_TIMEOUT:g} s"}
    try:
        details = task.result()
    except Exception as e:  # a health check reports failures, it does not raise them
        return {"status": "down", "error": str(e) or type(e).__name__}
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    return {"status": "up", "latencyMs": elapsed, **details}


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not log it as never retrieved


@router.get("/health", summary="Health of the platform and its dependencies")
async def health(rt: Annotated[Runtime, Depends(runtime)]) -> Response:
    names = [*rt.critical_checks, *rt.optional_checks]
    checks = [*rt.critical_checks.values(), *rt.optional_checks.values()]
    results = dict(zip(names, await asyncio.gather(*(_run(c) for c in checks)), strict=True))
    if any(results[n]["status"] != "up" for n in rt.critical_checks):
        status, code = "unhealthy", 503
    elif any(results[n]["status"] != "up" for n in rt.optional_checks):
        status, code = "degraded", 200
    else:
        status, code = "healthy", 200
    body = {
        "success": code == 200,
        "status": status,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "version": __version__,
        "checks": results,
    }
    return JSONResponse(body, status_code=code)
