"""/v1/gateway/routes and /v1/traffic: what gateways read and report (admin-scope PAT)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.api.longpoll import disconnected, wait_any
from flotilla.domain.states import DeploymentStatus
from flotilla.services import routes, traffic

router = APIRouter(tags=["gateway"], responses=ERROR_RESPONSES)
MAX_WAIT = 30.0
WAKE_TOPICS = ("nodes", "deployments", "clusters", "nodepools")
"""Replicas change state (agents, reconciler), deployments change, tokens are revoked."""

FiniteFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ReplicaRoute(BaseModel):
    id: str
    endpoint: str


class DeploymentRoute(BaseModel):
    pk: int = Field(description="Internal key; traffic samples name deployments by it.")
    id: str
    owner: str = Field(description="The owner's user id.")
    status: DeploymentStatus
    status_reason: str | None
    compute_stopped: bool = Field(
        description="Every nodepool is on a cluster that cannot act (TOKEN_REVOKED): answer "
        "COMPUTE_STOPPED instead of waiting for replicas."
    )
    replicas: list[ReplicaRoute] = Field(description="Ready replicas; draining ones are absent.")


class Routes(BaseModel):
    deployments: list[DeploymentRoute]
    etag: str


class SampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deployment_pk: int = Field(ge=1)
    start_s: FiniteFloat = Field(description="Interval start, seconds since the Unix epoch.")
    end_s: FiniteFloat
    in_flight: FiniteFloat = Field(description="Time-weighted average, held requests included.")
    arrivals: int = Field(ge=0)
    held: int = Field(ge=0, description="Requests waiting for a replica at the interval's end.")
    last_request_at: AwareDatetime | None = None
    latency_ms_p50: FiniteFloat | None = None
    latency_ms_p99: FiniteFloat | None = None
    errors: int = Field(0, ge=0)


class TrafficReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gateway: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    samples: list[SampleIn] = Field(max_length=10_000)


class TrafficRecorded(BaseModel):
    recorded: int
    ignored: int = Field(description="Samples of deployments that no longer exist.")


@router.get("/v1/gateway/routes", response_model=Routes, summary="Routes for gateways (admin)")
async def get_routes(
    ctx: Ctx,
    caller: Auth,
    request: Request,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT, description="Long-poll: seconds to wait for a change.")
    ] = 0,
    known: Annotated[
        str | None, Query(max_length=80, description="The etag of the routes the caller has.")
    ] = None,
) -> Response:
    """Every deployment, its owner and its ready replicas. With ``wait``, the answer is held
    until the routes differ from ``known`` (or the wait ends)."""
    caller.require_admin()
    woken = [(topic, ctx.hints.subscribe(topic)) for topic in WAKE_TOPICS]
    loop = asyncio.get_running_loop()
    gone = asyncio.ensure_future(disconnected(request))
    try:
        deadline = loop.time() + wait
        while True:
            for _, event in woken:
                event.clear()
            async with ctx.db.read() as s:
                table = await routes.route_table(ctx, s)
            left = deadline - loop.time()
            if table.etag != known or left <= 0:
                deployments = [asdict(d) for d in table.deployments]
                return json(Routes.model_validate({"deployments": deployments, "etag": table.etag}))
            await wait_any([event for _, event in woken], gone, left)
            if gone.done():  # the gateway went away: stop answering it
                return Response(status_code=204)
    finally:
        gone.cancel()
        for topic, event in woken:
            ctx.hints.unsubscribe(topic, event)


@router.post("/v1/traffic", response_model=TrafficRecorded, summary="Report traffic (admin)")
async def report_traffic(ctx: Ctx, caller: Auth, body: TrafficReport) -> Response:
    """What one gateway saw of each deployment over its last interval. A sample with ``held``
    requests wakes the autoscaler at once: a deployment at zero replicas starts scaling."""
    caller.require_admin()
    samples = [traffic.Sample(**s.model_dump()) for s in body.samples]
    async with ctx.db.write() as s:
        recorded, ignored = await routes.record_traffic(ctx, s, body.gateway, samples)
    if any(sample.held > 0 for sample in samples):
        ctx.hints.notify("traffic")
    return json(TrafficRecorded(recorded=recorded, ignored=ignored))
