"""``GET /metrics`` in one process: who may read it, and what it counts."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    for i in range(3):
        await client.get(f"/v1/forms/forms/missing-{i}")
    after = await client.get("/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    name, labels = (
        "pliers_http_requests_total",
        {
            "method": "GET",
            "route": "/v1/forms/forms/{form_id}",
            "status": "404",
        },
    )
    assert _value(after.text, name, **labels) - _value(before, name, **labels) == 3
    assert "missing-0" not in after.text  # paths are never labels
    assert _value(after.text, "pliers_stream_lag_positions") >= 0
