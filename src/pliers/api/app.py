"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pliers import __version__, metrics
from pliers.api import asyncapi, contract, docs, envelope, events, fast, goodbye, health
from pliers.api import forms as forms_api
from pliers.api import keys as keys_api
from pliers.api import metrics as metrics_api
from pliers.api import notifications as notifications_api
from pliers.api import public as public_api
from pliers.api import submissions as submissions_api
from pliers.api.auth import Authentication, document_security
from pliers.api.cors import PublicFormCORS
from pliers.api.limits import AnswerAfterBody, BodyLimits
from pliers.api.observe import RequestObserver
from pliers.api.stream import router as stream_router
from pliers.logs import configure_logging
from pliers.runtime import Runtime
from pliers.settings import Settings, load_settings
from pliers.web import install as install_pages

ROUTERS = [
    health.router,
    events.router,
    forms_api.router,
    submissions_api.router,
    notifications_api.router,
    keys_api.router,
    public_api.router,
    metrics_api.router,
]

ROUTERS.append(stream_router)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the ASGI app.

    Given a ``runtime`` (tests, embedding), the app uses it and leaves closing it to the caller;
    otherwise the app starts its own runtime from ``settings`` on startup and closes it on shutdown.
    """
    settings = runtime.settings if runtime is not None else settings or load_settings()
    if runtime is None:
        # A server process of its own (each of uvicorn's workers builds its app here): its logs
        # go out in the configured format whoever started it. An embedding caller keeps its own.
        configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        started = await Runtime.start(settings)
        app.state.runtime = started
        # What is alive now (modules, the app and its schemas, the runtime) lives as long as the
        # process: out of the collector's sight, its full collections no longer walk all of it.
        gc.freeze()
        goodbye.install(asyncio.get_running_loop())
        sampler = asyncio.create_task(
            metrics_api.sample_forever(started, settings.metrics_sample_seconds),
            name="pliers-metrics-sampler",
        )
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            await started.close()
            metrics.worker_stopped()

    app = fast.HotPathApp(
        title="Pliers",
        version=__version__,
        summary="Event-sourced forms platform",
        lifespan=lifespan,
        docs_url=None,  # served by pliers.api.docs, from the package rather than a CDN
        redoc_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime  # usable without the lifespan (httpx ASGITransport)
    envelope.install(app)
    for router in ROUTERS:
        app.include_router(router)
    install_pages(app)
    contract.install(app)
    docs.install(app)
    asyncapi.install(app)
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        read_timeout=settings.body_read_timeout,
    )
    app.add_middleware(PublicFormCORS)
    app.add_middleware(Authentication)  # after BodyLimits, so it runs before any body is read
    document_security(app)
    # Last but one, so it answers whatever any middleware or route raised.
    app.add_middleware(envelope.Unexpected)
    # Outside every middleware that may answer before the body is read (401, 403, 500).
    app.add_middleware(
        AnswerAfterBody, max_bytes=settings.max_body_bytes, read_timeout=settings.body_read_timeout
    )
    # Added last, so it is the outermost: a refused request (401, 413, 500) gets a request id and
    # an access line too, and the key check sees the request id already set.
    app.add_middleware(RequestObserver, access_log=settings.access_log)
    return app
