"""The process's Prometheus metrics, and their rendering for ``GET /metrics``.

Under ``pliers serve --workers N`` each worker is a process of its own: ``pliers serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start, prometheus-client
then keeps every value in a file there, and whichever worker answers a scrape adds up all of them
(:func:`render`). Gauges say how: ``livesum`` (connections: the sum over live workers), ``livemax``
(lag: the worst worker), ``mostrecent`` (outbox depth: one database, whoever looked last).

Labels are bounded: a request's route is its template (``/v1/forms/forms/{form_id}``), never its
path, and a status is one of the few HTTP statuses the app answers with.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: how long a scrape waits for the database's answers before it renders what it has
SAMPLE_TIMEOUT = 2.0

log = logging.getLogger(__name__)

# Latency buckets in seconds, from a cache hit to a slow commit.
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "pliers_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
HTTP_IN_FLIGHT = Gauge(
    "pliers_http_requests_in_flight",
    "HTTP requests being answered now",
    multiprocess_mode="livesum",
)
HTTP_SECONDS = Histogram(
    "pliers_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route"],
    buckets=_LATENCY,
)
APPEND_GROUP_SIZE = Histogram(
    "pliers_append_group_size",
    "Append requests written together in one transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
APPEND_COMMIT_SECONDS = Histogram(
    "pliers_append_commit_seconds",
    "Time to write and commit one group of appends",
    buckets=_LATENCY,
)
OUTBOX_NOTIFICATIONS = Gauge(
    "pliers_outbox_notifications",
    "Notifications in the outbox, by status",
    ["status"],
    multiprocess_mode="mostrecent",
)
DELIVERY_SECONDS = Histogram(
    "pliers_notification_delivery_seconds",
    "From a notification queued to its mail accepted",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
STREAM_CONNECTIONS = Gauge(
    "pliers_stream_connections", "Open WebSocket stream connections", multiprocess_mode="livesum"
)
STREAM_SUBSCRIPTIONS = Gauge(
    "pliers_stream_subscriptions", "Live stream subscriptions", multiprocess_mode="livesum"
)
STREAM_SLOW_CLOSED = Counter(
    "pliers_stream_slow_consumers_closed", "Stream connections closed (1008) for falling behind"
)
STREAM_LAG = Gauge(
    "pliers_stream_lag_positions",
    "Positions the stream has not read yet",
    multiprocess_mode="livemax",
)
CACHE_REQUESTS = Counter(
    "pliers_cache_requests", "Read-through cache lookups, by result (hit or miss)", ["result"]
)
DB_POOL_CONNECTIONS = Gauge(
    "pliers_db_pool_connections",
    "PostgreSQL pool connections, by state (in_use, idle, max)",
    ["state"],
    multiprocess_mode="livesum",
)

STATUSES = ("queued", "sending", "sent", "failed")


#: the label children of each (method, route, status) seen: labels() takes a lock and builds a
#: key each time, and routes and statuses are few
_request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    series = _request_series.get((method, route, status))
    if series is None:
        series = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_SECONDS.labels(method, route),
        )
        _request_series[(method, route, status)] = series
    series[0].inc()
    series[1].observe(seconds)


@contextlib.contextmanager
def append_group(size: int) -> Iterator[None]:
    """Time the write and commit of one group of ``size`` append requests (a failed one is not
    recorded)."""
    started = time.perf_counter()
    yield
    APPEND_COMMIT_SECONDS.observe(time.perf_counter() - started)
    APPEND_GROUP_SIZE.observe(size)


def cache_lookup(hit: bool) -> None:
    CACHE_REQUESTS.labels("hit" if hit else "miss").inc()


def render() -> bytes:
    """The exposition text: every worker's values under multiprocess mode, else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def worker_stopped(pid: int | None = None) -> None:
    """Drop a stopped worker's live gauges (its counters keep counting in the total)."""
    if os.environ.get(MULTIPROC_ENV):
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]
