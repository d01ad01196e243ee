"""What the gateway tells the control plane (traffic samples) and Prometheus (/metrics)."""

from __future__ import annotations

import asyncio
import itertools
import time

from tests.gateway.conftest import GatewayFactory, Stack, eventually, routes_settled


async def test_traffic_samples_reach_the_server_with_the_right_numbers(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    replica = await stack.stand_in(delay=0.05)
    await stack.add_replica("echo", replica.endpoint)
    async with gateway(report_interval=0.2) as (gw, client):
        await routes_settled(gw, "echo", 1)

        async def timed(i: int) -> float:
            sent = time.monotonic()
            answer = await client.post("/v1/deployments/echo/predict", json={"inputs": i})
            assert answer.status_code == 200
            return time.monotonic() - sent

        seen_by_caller = sum(await asyncio.gather(*(timed(i) for i in range(4))))
        reported = len(await stack.samples("echo"))

        async def quiet_interval_reported() -> bool:  # zeros keep coming while it is recent
            samples = await stack.samples("echo")
            return len(samples) >= reported + 2 and samples[-1].arrivals == 0

        await eventually(quiet_interval_reported)
    samples = await stack.samples("echo")
    assert sum(s.arrivals for s in samples) == 4
    busy = [s for s in samples if s.arrivals]
    assert all(s.errors == 0 and s.held == 0 for s in samples)
    assert all(s.gateway == "gw-test" for s in samples)
    # latencies count in the interval a request ends in, arrivals in the one it starts in
    ended = [s for s in samples if s.latency_ms_p50 is not None]
    assert ended
    assert all(s.latency_ms_p50 >= 50 and (s.latency_ms_p99 or 0) >= 50 for s in ended)
    assert all(s.last_request_at is not None for s in busy)
    # the time-weighted average, times the covered time: the requests' time in the gateway, at
    # least the replica's 4 x 50 ms, at most what the caller waited
    in_flight_seconds = sum(s.in_flight * (s.end_s - s.start_s) for s in samples)
    assert 4 * 0.05 <= in_flight_seconds <= seen_by_caller * 1.01, (
        in_flight_seconds,
        seen_by_caller,
    )
    assert all(b.start_s < b.end_s for b in samples)
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in itertools.pairwise(samples))


async def test_failed_requests_are_reported_as_errors(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    async with gateway(hold_timeout=0.1, report_interval=0.2) as (gw, client):
        await routes_settled(gw, "echo", 0)
        response = await client.post("/v1/deployments/echo/predict", json={"inputs": 1})
        assert response.status_code == 503

        async def error_reported() -> bool:
            return sum(s.errors for s in await stack.samples("echo")) == 1

        await eventually(error_reported)


async def test_metrics_count_requests_by_deployment_and_status(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    replica = await stack.stand_in()
    await stack.add_replica("echo", replica.endpoint)
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 1)
        for i in range(3):
            await client.post("/v1/deployments/echo/predict", json={"inputs": i})
        await client.post("/v1/deployments/echo/predict", content=b"nope")
        metrics = await client.get("/metrics")
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'flotilla_gateway_requests_total{deployment="admin/echo",status="200"} 3.0' in text
    assert 'flotilla_gateway_requests_total{deployment="admin/echo",status="400"} 1.0' in text
    assert 'flotilla_gateway_request_duration_seconds_count{deployment="admin/echo"} 4.0' in text
    assert 'flotilla_gateway_in_flight_requests{deployment="admin/echo"} 0.0' in text
    assert 'flotilla_gateway_held_requests{deployment="admin/echo"} 0.0' in text
    assert 'flotilla_gateway_ready_replicas{deployment="admin/echo"} 1.0' in text
    assert health.json()["status"] == "ok"
    assert ready.status_code == 200
