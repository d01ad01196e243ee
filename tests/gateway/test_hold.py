"""A deployment at zero replicas: requests are held, reported, and served once a replica is
ready — or answered 503 with Retry-After when the wait or the queue runs out."""

from __future__ import annotations

import asyncio

from tests.gateway.conftest import GatewayFactory, Stack, eventually, routes_settled


async def test_a_request_at_zero_replicas_is_held_reported_and_then_served(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    # a long interval: the held request must be reported at once, not at the next tick
    async with gateway(report_interval=30.0) as (gw, client):
        await routes_settled(gw, "echo", 0)
        waiting = asyncio.create_task(
            client.post("/v1/deployments/echo/predict", json={"inputs": "first"})
        )

        async def held_reported() -> bool:
            return any(s.held >= 1 for s in await stack.samples("echo"))

        await eventually(held_reported)
        assert not waiting.done()
        replica = await stack.stand_in()
        await stack.add_replica("echo", replica.endpoint)
        response = await asyncio.wait_for(waiting, 3)
    assert response.status_code == 200
    assert response.json() == {"outputs": "first"}
    assert replica.served == 1


async def test_a_held_request_gets_503_with_retry_after_when_no_replica_comes(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    async with gateway(hold_timeout=0.3) as (gw, client):
        await routes_settled(gw, "echo", 0)
        response = await client.post("/v1/deployments/echo/predict", json={"inputs": 1})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "NO_REPLICA_READY"
    assert int(response.headers["retry-after"]) > 0


async def test_requests_beyond_the_queue_get_503_queue_full(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    async with gateway(queue_size=2, hold_timeout=1.0) as (gw, client):
        await routes_settled(gw, "echo", 0)
        held = [
            asyncio.create_task(client.post("/v1/deployments/echo/predict", json={"inputs": i}))
            for i in range(2)
        ]
        await eventually(lambda: gw.table.by_name[("admin", "echo")].traffic.held == 2)
        refused = await client.post("/v1/deployments/echo/predict", json={"inputs": 3})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "QUEUE_FULL"
        assert "retry-after" in refused.headers
        assert [(await h).status_code for h in held] == [503, 503]


async def test_a_caller_that_leaves_frees_its_place_in_the_queue(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    async with gateway(queue_size=1) as (gw, client):
        await routes_settled(gw, "echo", 0)
        waiting = asyncio.create_task(
            client.post("/v1/deployments/echo/predict", json={"inputs": 1})
        )
        traffic = gw.table.by_name[("admin", "echo")].traffic
        await eventually(lambda: traffic.held == 1)
        waiting.cancel()
        await eventually(lambda: traffic.held == 0 and traffic.level == 0)
