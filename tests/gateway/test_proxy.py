"""Predictions through a real gateway to stand-in replicas: routing, retries, draining."""

from __future__ import annotations

import asyncio

from tests.gateway.conftest import GatewayFactory, Stack, closed_port, eventually, routes_settled


async def test_predict_answers_the_replicas_outputs(stack: Stack, gateway: GatewayFactory) -> None:
    await stack.deploy("echo")
    replica = await stack.stand_in()
    replica_id = await stack.add_replica("echo", replica.endpoint)
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 1)
        response = await client.post("/v1/deployments/echo/predict", json={"inputs": [1, "a"]})
        assert response.status_code == 200, response.text
        assert response.json() == {"outputs": [1, "a"]}
        assert response.headers["x-flotilla-replica"] == replica_id
        namespaced = await client.post(
            "/v1/users/admin/deployments/echo/predict", json={"inputs": {"x": 1}}
        )
        assert namespaced.json() == {"outputs": {"x": 1}}
    assert replica.served == 2


async def test_concurrent_requests_go_to_the_least_busy_replicas(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    replicas = [await stack.stand_in(hold=True) for _ in range(3)]
    for replica in replicas:
        await stack.add_replica("echo", replica.endpoint)
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 3)
        sent = [
            asyncio.create_task(client.post("/v1/deployments/echo/predict", json={"inputs": i}))
            for i in range(6)
        ]
        await eventually(lambda: sum(r.in_flight for r in replicas) == 6)
        assert [r.in_flight for r in replicas] == [2, 2, 2]
        for replica in replicas:
            replica.release.set()
        answers = await asyncio.gather(*sent)
    assert [a.json()["outputs"] for a in answers] == list(range(6))


async def test_a_draining_replica_gets_no_new_requests_and_finishes_its_own(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    draining = await stack.stand_in(hold=True)
    draining_id = await stack.add_replica("echo", draining.endpoint)
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 1)
        first = asyncio.create_task(client.post("/v1/deployments/echo/predict", json={"inputs": 0}))
        await eventually(lambda: draining.in_flight == 1)
        staying = await stack.stand_in()
        staying_id = await stack.add_replica("echo", staying.endpoint)
        await stack.set_replica_state(draining_id, "draining")
        route = gw.table.by_name[("admin", "echo")]
        await eventually(lambda: [r.id for r in route.replicas] == [staying_id])
        for i in range(5):
            response = await client.post("/v1/deployments/echo/predict", json={"inputs": i})
            assert response.status_code == 200
        draining.release.set()
        finished = await first
    assert finished.json() == {"outputs": 0}
    assert (draining.served, staying.served) == (1, 5)


async def test_a_replica_refusing_connections_is_skipped(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    live = await stack.stand_in()
    await stack.add_replica("echo", f"http://127.0.0.1:{closed_port()}")
    await stack.add_replica("echo", live.endpoint)
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 2)
        statuses = [
            (await client.post("/v1/deployments/echo/predict", json={"inputs": i})).status_code
            for i in range(6)
        ]
        metrics = (await client.get("/metrics")).text
    assert statuses == [200] * 6
    assert live.served == 6
    assert 'flotilla_gateway_upstream_retries_total{deployment="admin/echo"}' in metrics


async def test_a_replica_dropping_the_connection_before_answering_is_retried(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    crashing = await stack.stand_in(drop=1)
    await stack.add_replica("echo", crashing.endpoint)
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 1)
        response = await client.post("/v1/deployments/echo/predict", json={"inputs": 7})
    assert response.status_code == 200
    assert response.json() == {"outputs": 7}
    assert crashing.dropped == 1


async def test_a_request_waits_while_the_only_replica_restarts(
    stack: Stack, gateway: GatewayFactory
) -> None:
    """kill -9 of the only replica: the agent restarts it; the request waits, then succeeds."""
    await stack.deploy("echo")
    port = closed_port()
    await stack.add_replica("echo", f"http://127.0.0.1:{port}")
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 1)
        waiting = asyncio.create_task(
            client.post("/v1/deployments/echo/predict", json={"inputs": "again"})
        )
        await eventually(lambda: gw.table.by_name[("admin", "echo")].traffic.held == 1)
        restarted = await stack.stand_in(port=port)
        response = await asyncio.wait_for(waiting, 3)
    assert response.json() == {"outputs": "again"}
    assert restarted.served == 1
