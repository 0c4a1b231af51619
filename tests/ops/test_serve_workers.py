"""``pliers serve --workers 2`` on PostgreSQL, as an operator runs it: what its processes log, and
what its ``/metrics`` counts, across both workers."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

START_TIMEOUT = 60.0
WAIT = 60.0


@dataclass
class Server:
    process: subprocess.Popen[str]
    base: str
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def entries(self) -> list[dict[str, Any]]:
        """Every line logged so far, each parsed as JSON (a line that is not JSON fails)."""
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return [_parsed(line) for line in self.seen]

    def wait_for(self, what: str, found: Any) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT
        while True:
            entries = self.entries()
            if found(entries):
                return entries
            assert self.process.poll() is None, f"server exited while waiting for {what}"
            assert time.monotonic() < deadline, f"no {what} in {self.seen}"
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.lines.get(timeout=0.5))


def _parsed(line: str) -> dict[str, Any]:
    try:
        entry: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        raise AssertionError(f"not a JSON log line: {line!r}") from None
    return entry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(pliers_db_url: str) -> Iterator[Server]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLIERS_", "PROMETHEUS_"))}
    env |= {
        "PLIERS_DATABASE_URL": pliers_db_url,
        "PLIERS_LOG_FORMAT": "json",
        "PLIERS_LOG_LEVEL": "INFO",
        "PLIERS_NOTIFY_POLL_SECONDS": "0.2",
        "PLIERS_DB_POOL_MIN": "1",
        "PLIERS_DB_POOL_MAX": "4",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pliers", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    srv = Server(process, f"http://127.0.0.1:{port}")

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            srv.lines.put(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        srv.wait_for(
            "two workers started",
            lambda es: sum(e["message"] == "Application startup complete." for e in es) == 2,
        )
        yield srv
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def test_every_process_logs_json_lines_with_the_request_id(server: Server) -> None:
    with httpx.Client(base_url=server.base, timeout=30) as client:
        form = client.post(
            "/v1/forms/forms",
            json={
                "name": "Contact",
                "fields": [{"name": "name", "type": "text", "required": True}],
                "notifications": [
                    {"type": "email", "to": ["ops@example.com"], "subject": "New: {{name}}"}
                ],
            },
            headers={"X-Request-ID": "create-form-1"},
        )
        assert form.status_code == 201, form.text
        submitted = client.post(
            "/v1/submissions/submissions",
            json={"formId": form.json()["data"]["id"], "data": {"name": "Ada"}},
            headers={"X-Request-ID": "submit-1"},
        )
        assert submitted.status_code == 201, submitted.text
    submission_id = submitted.json()["data"]["id"]

    entries = server.wait_for(
        "the console mail line and the submission's access line",
        # the access line is written after the response is sent, so it may come after the mail
        lambda es: (
            (
                any(e["logger"] == "pliers.mail" and submission_id in e["message"] for e in es)
                or any(
                    e["logger"] == "pliers.mail" and "ops@example.com" in e["message"] for e in es
                )
            )
            and any(e.get("request_id") == "submit-1" for e in es)
        ),
    )
    parent = server.process.pid
    workers = {e["pid"] for e in entries if e["message"] == "Application startup complete."}
    assert len(workers) == 2
    assert parent not in workers
    # uvicorn's own lines and Pliers' have one format, in the parent and in the workers
    assert any(e["logger"] == "pliers.cli" and e["pid"] == parent for e in entries)
    assert any(e["logger"].startswith("uvicorn") and e["pid"] == parent for e in entries)
    [mail] = [e for e in entries if e["logger"] == "pliers.mail"]
    assert mail["pid"] in workers
    assert "Subject: New: Ada" in mail["message"]

    access = {e["request_id"]: e for e in entries if e["logger"] == "pliers.access"}
    assert access["create-form-1"]["route"] == "/v1/forms/forms"
    assert access["create-form-1"]["status"] == 201
    assert access["submit-1"]["route"] == "/v1/submissions/submissions"
    assert access["submit-1"]["status"] == 201
    assert access["submit-1"]["pid"] in workers
    assert access["submit-1"]["duration_ms"] > 0
    assert {e["level"] for e in entries} <= {"DEBUG", "INFO", "WARNING"}


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_the_traffic_of_both_workers(server: Server) -> None:
    reads, publishes, missing = 5, 6, 3
    # /health on a new connection each time until both workers have answered some: the counts
    # below are then sums over two processes' files, not one process's memory.
    health = 0
    served_by: set[int] = set()
    while len(served_by) < 2:
        assert health < 500, "one worker answered every request"
        r = httpx.get(f"{server.base}/health", headers={"X-Request-ID": f"health-{health}"})
        assert r.status_code == 200
        health += 1
        served_by = {
            e["pid"]
            for e in server.wait_for(
                "the access line",
                lambda es, n=health: sum(e["logger"] == "pliers.access" for e in es) >= n,
            )
            if e["logger"] == "pliers.access"
        }
    for i in range(publishes):
        r = httpx.post(
            f"{server.base}/v1/events/events",
            json={"event": {"type": "metric.test", "aggregateId": f"agg-{i}"}},
        )
        assert r.status_code == 201, r.text
    for i in range(reads):
        r = httpx.get(f"{server.base}/v1/events/events/aggregates/agg-{i}")
        assert r.status_code == 200
    for i in range(missing):
        assert httpx.get(f"{server.base}/no/such/path/{i}").status_code == 404

    scrape = httpx.get(f"{server.base}/metrics")
    assert scrape.status_code == 200
    samples = _samples(scrape.text)

    def requests(method: str, route: str, status: str) -> float:
        key = frozenset({"method": method, "route": route, "status": status}.items())
        return samples[("pliers_http_requests_total", key)]

    assert requests("GET", "/health", "200") == health
    assert requests("POST", "/v1/events/events", "201") == publishes
    assert requests("GET", "/v1/events/events/aggregates/{aggregate_id}", "200") == reads
    assert requests("GET", "unmatched", "404") == missing
    latency = frozenset({"method": "GET", "route": "/health"}.items())
    assert samples[("pliers_http_request_duration_seconds_count", latency)] == health
    # one append request per publish, whichever worker and group wrote it
    assert samples[("pliers_append_group_size_sum", frozenset())] == publishes
    assert samples[("pliers_append_commit_seconds_count", frozenset())] >= 1
    assert samples[("pliers_stream_connections", frozenset())] == 0
    pool_max = samples[("pliers_db_pool_connections", frozenset({("state", "max")}))]
    assert pool_max == 4 * 2  # PLIERS_DB_POOL_MAX per worker, both reporting
    for status in ("queued", "sending", "sent", "failed"):
        assert samples[("pliers_outbox_notifications", frozenset({("status", status)}))] == 0
