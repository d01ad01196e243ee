"""/v1/agent: what node agents call (node-token auth), and /v1/agent/join for machines users bring."""

from __future__ import annotations

import asyncio
import hashlib
import json as jsonlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, Response

from flotilla.api.deps import Auth, Ctx, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.api.longpoll import disconnected, wait_any
from flotilla.domain.errors import Unauthenticated
from flotilla.domain.ids import ObjectId
from flotilla.domain.states import NODE_GONE_STATES, ReplicaState
from flotilla.services import agents, logs
from flotilla.services.packages import package_archive

router = APIRouter(prefix="/v1/agent", tags=["agent"], responses=ERROR_RESPONSES)
NodeId = Annotated[ObjectId, Path(description="The node's id.")]
MAX_WAIT = 30.0


class Capacity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cpu: int = Field(ge=0, description="Millicores replicas may use.")
    memory: int = Field(ge=0, description="Bytes replicas may use.")
    accelerators: int = Field(0, ge=0)
    accelerator_type: str | None = Field(None, max_length=64)


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capacity: Capacity | None = None
    agent_version: str = Field("", max_length=64)


class Registered(BaseModel):
    node_id: str
    heartbeat_seconds: float


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replica_id: str = Field(max_length=128)
    state: ReplicaState
    endpoint: str | None = Field(None, max_length=256)
    reason: str | None = Field(None, max_length=2000)
    exit_code: int | None = None
    log_tail: str | None = Field(None, max_length=20_000)
    restarts: int = Field(0, ge=0)


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replicas: list[Report] = Field(default_factory=list, max_length=1000)
    known: str | None = Field(
        None, max_length=80, description="The etag of the desired state the agent has."
    )


class Desired(BaseModel):
    replica_id: str
    deployment_id: str
    model_version_digest: str
    entrypoint: str
    resources: dict[str, Any]
    drain: bool


class DesiredState(BaseModel):
    replicas: list[Desired]
    etag: str
    shutdown: bool = Field(False, description="The node is written off: stop everything and exit.")


class LogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replica_id: str = Field(max_length=128)
    time: float
    stream: str = Field("stdout", max_length=16)
    text: str = Field(max_length=10_000)


class LogBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[LogEntry] = Field(max_length=10_000)


class Join(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compute_cluster: ObjectId
    nodepool: ObjectId
    capacity: Capacity
    hostname: str = Field(max_length=128)


class Joined(BaseModel):
    node_id: str
    node_token: str = Field(description="Shown once: the agent authenticates with it from now on.")


def _secret(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("send the node token: 'Authorization: Bearer fln_…'")
    return authorization.split(" ", 1)[1].strip()


@router.post("/nodes/{node_id}/register", response_model=Registered, summary="An agent is up")
async def register(
    ctx: Ctx,
    node_id: NodeId,
    body: Registration,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    async with ctx.db.write() as s:
        node = await agents.node_for_token(s, node_id, _secret(authorization))
        capacity = body.capacity.model_dump() if body.capacity else None
        await agents.register(s, node, ctx.now(), capacity)
    ctx.hints.notify("nodes")
    return json(Registered(node_id=node_id, heartbeat_seconds=ctx.settings.agent_heartbeat_seconds))


def _etag(replicas: list[Desired]) -> str:
    payload = jsonlib.dumps([r.model_dump() for r in replicas], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@router.post(
    "/nodes/{node_id}/heartbeat",
    response_model=DesiredState,
    summary="Report replicas, get the desired ones",
)
async def heartbeat(
    ctx: Ctx,
    request: Request,
    node_id: NodeId,
    body: Heartbeat,
    authorization: Annotated[str | None, Header()] = None,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT, description="Long-poll: seconds to wait for a change.")
    ] = 0,
) -> Response:
    """The agent's reports go in; the replicas it should run come back. With ``wait``, the answer
    is held until the desired state differs from ``known`` (or the wait ends)."""
    secret = _secret(authorization)
    reports = [agents.ReplicaReport(**r.model_dump()) for r in body.replicas]
    woken = ctx.hints.subscribe("nodes")
    departed = asyncio.ensure_future(disconnected(request))
    try:
        deadline = asyncio.get_running_loop().time() + wait
        async with ctx.db.write() as s:  # the heartbeat itself: recorded once
            node = await agents.node_for_token(s, node_id, secret)
            node_pk = node.pk
            gone = node.state in {st.value for st in NODE_GONE_STATES}
            wanted = await agents.heartbeat(s, node, reports, ctx.now())
        if reports:
            ctx.hints.notify("deployments")
        while True:
            replicas = [Desired(**vars(w)) for w in wanted]
            state = DesiredState(replicas=replicas, etag=_etag(replicas), shutdown=gone)
            left = deadline - asyncio.get_running_loop().time()
            if gone or state.etag != body.known or left <= 0 or departed.done():
                return json(state)
            woken.clear()
            await wait_any([woken], departed, left)
            async with ctx.db.read() as s:  # then only read, until something changes
                wanted = (await agents.desired(s, [node_pk]))[node_pk]
    finally:
        departed.cancel()
        ctx.hints.unsubscribe("nodes", woken)


@router.get(
    "/nodes/{node_id}/packages/{digest}",
    summary="Download a model package",
    response_class=FileResponse,
)
async def package(
    ctx: Ctx,
    node_id: NodeId,
    digest: Annotated[str, Path(max_length=80)],
    authorization: Annotated[str | None, Header()] = None,
) -> FileResponse:
    async with ctx.db.read() as s:
        await agents.node_for_token(s, node_id, _secret(authorization))
    return FileResponse(package_archive(ctx.settings, digest), media_type="application/gzip")


@router.post("/nodes/{node_id}/logs", status_code=204, summary="Ship replica log lines")
async def ship_logs(
    ctx: Ctx, node_id: NodeId, body: LogBatch, authorization: Annotated[str | None, Header()] = None
) -> Response:
    async with ctx.db.read() as s:
        node = await agents.node_for_token(s, node_id, _secret(authorization))
        allowed = await agents.replica_ids_on(s, node.pk)
    lines = [
        logs.LogLine(e.replica_id, e.time, e.stream, e.text)
        for e in body.lines
        if e.replica_id in allowed
    ]
    await asyncio.to_thread(logs.append, ctx.settings, lines)
    return Response(status_code=204)


@router.post(
    "/join",
    status_code=201,
    response_model=Joined,
    summary="A machine you have joins a self-managed nodepool",
)
async def join(ctx: Ctx, caller: Auth, body: Join) -> Response:
    """`flotilla agent --join URL --token PAT --cluster C --nodepool N` calls this once."""
    async with ctx.db.write() as s:
        node, secret = await agents.join(
            ctx,
            s,
            caller,
            body.compute_cluster,
            body.nodepool,
            body.capacity.model_dump(),
            body.hostname,
        )
    return json(Joined(node_id=node.id, node_token=secret), 201)
