"""The server's side of the gateway: GET /v1/gateway/routes (long-poll) and POST /v1/traffic,
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import sqlalchemy as sa

from flotilla.domain.time import ManualClock
from flotilla.services.context import Context
from flotilla.store.tables import DeploymentRow, TrafficSampleRow
from tests.factories import create_deployment, create_user, expect_error, ok, upload_model
from tests.gateway.conftest import insert_replica


async def _deployment_pk(ctx: Context, deployment_id: str) -> int:
    async with ctx.db.read() as s:
        pk = await s.scalar(sa.select(DeploymentRow.pk).where(DeploymentRow.id == deployment_id))
    assert pk is not None
    return pk


def _sample(pk: int, end: float, **fields: Any) -> dict[str, Any]:
    return {
        "deployment_pk": pk,
        "start_s": end - 1.0,
        "end_s": end,
        "in_flight": 1.5,
        "arrivals": 3,
        "held": 0,
        **fields,
    }


async def test_routes_list_deployments_with_their_ready_replicas_only(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo")
    ready = await insert_replica(ctx, "echo", "http://127.0.0.1:9001")
    await insert_replica(ctx, "echo", "http://127.0.0.1:9002", state="draining")
    await insert_replica(ctx, "echo", "http://127.0.0.1:9003", state="starting")
    await insert_replica(ctx, "echo", None)  # ready without an endpoint: not routable
    routes = await ok(await client.get("/v1/gateway/routes"))
    [deployment] = routes["deployments"]
    assert deployment["id"] == "echo"
    assert deployment["owner"] == "admin"
    assert deployment["pk"] == await _deployment_pk(ctx, "echo")
    assert (deployment["status"], deployment["status_reason"]) == ("enabled", None)
    assert deployment["compute_stopped"] is False
    assert deployment["replicas"] == [{"id": ready, "endpoint": "http://127.0.0.1:9001"}]
    assert routes["etag"]


async def test_the_routes_long_poll_answers_when_a_replica_becomes_ready(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo")
    first = await ok(await client.get("/v1/gateway/routes"))
    unchanged = await ok(
        await client.get("/v1/gateway/routes", params={"wait": 0.2, "known": first["etag"]})
    )
    assert unchanged["etag"] == first["etag"]
    waiting = asyncio.create_task(
        client.get("/v1/gateway/routes", params={"wait": 10, "known": first["etag"]})
    )
    await asyncio.sleep(0.1)
    assert not waiting.done()
    replica = await insert_replica(ctx, "echo", "http://127.0.0.1:9001")
    changed = await ok(await asyncio.wait_for(waiting, 3))
    assert changed["etag"] != first["etag"]
    assert [r["id"] for r in changed["deployments"][0]["replicas"]] == [replica]


async def test_routes_and_traffic_need_an_admin_token(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    expect_error(await bob.get("/v1/gateway/routes"), 403, "PERMISSION_DENIED")
    body = {"gateway": "gw-1", "samples": []}
    expect_error(await bob.post("/v1/traffic", json=body), 403, "PERMISSION_DENIED")
    await bob.aclose()


async def test_traffic_is_recorded_and_samples_of_deleted_deployments_ignored(
    client: httpx.AsyncClient, ctx: Context, clock: ManualClock
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo")
    pk = await _deployment_pk(ctx, "echo")
    end = clock.now().timestamp()
    at = clock.now().isoformat()
    body = {
        "gateway": "gw-host-8701",
        "samples": [
            _sample(pk, end, last_request_at=at, latency_ms_p50=2.5, latency_ms_p99=9.0, errors=1),
            _sample(pk + 1000, end),
        ],
    }
    answer = await ok(await client.post("/v1/traffic", json=body))
    assert answer == {"recorded": 1, "ignored": 1}
    async with ctx.db.read() as s:
        [row] = (await s.scalars(sa.select(TrafficSampleRow))).all()
        last_request_at = await s.scalar(
            sa.select(DeploymentRow.last_request_at).where(DeploymentRow.pk == pk)
        )
    assert (row.gateway, row.arrivals, row.in_flight, row.errors) == ("gw-host-8701", 3, 1.5, 1)
    assert (row.latency_ms_p50, row.latency_ms_p99) == (2.5, 9.0)
    assert last_request_at == clock.now()


async def test_a_held_request_wakes_the_autoscaler_at_once(
    client: httpx.AsyncClient, ctx: Context, clock: ManualClock
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo")
    pk = await _deployment_pk(ctx, "echo")
    woken = ctx.hints.subscribe("traffic")
    end = clock.now().timestamp()
    quiet = {"gateway": "gw-1", "samples": [_sample(pk, end)]}
    await ok(await client.post("/v1/traffic", json=quiet))
    assert not woken.is_set()
    held = {"gateway": "gw-1", "samples": [_sample(pk, end + 1, held=2)]}
    await ok(await client.post("/v1/traffic", json=held))
    assert woken.is_set()


async def test_traffic_samples_are_validated(
    client: httpx.AsyncClient, ctx: Context, clock: ManualClock
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo")
    pk = await _deployment_pk(ctx, "echo")
    end = clock.now().timestamp()
    bad_samples = [
        _sample(pk, end, start_s=end + 1),  # ends before it starts
        _sample(pk, end + 3600),  # in the future
        _sample(pk, end, start_s=end - 7200),  # too long
        _sample(pk, end, arrivals=-1),
        _sample(pk, end, in_flight=float("nan")),
        _sample(pk, end, last_request_at="2026-01-01T00:00:00"),  # no time zone
        {**_sample(pk, end), "surprise": 1},
        {"deployment_pk": pk},
    ]
    for sample in bad_samples:
        response = await client.post(
            "/v1/traffic",
            content=json.dumps({"gateway": "gw", "samples": [sample]}),  # NaN as Python writes it
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422), (sample, response.text)
    for name in ("", "-bad", "has space", "x" * 200):
        response = await client.post("/v1/traffic", json={"gateway": name, "samples": []})
        expect_error(response, 422, "INVALID_ARGUMENT")
    async with ctx.db.read() as s:
        assert (await s.scalar(sa.select(sa.func.count()).select_from(TrafficSampleRow))) == 0
