"""What node agents call: register, heartbeat with replica reports, get the desired replicas.

The HTTP agent API (and the simulated agents) use these. The agent is authoritative for what
runs (starting, ready, stopped, failed); the controller for what should run (placed, draining).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import Conflict, InvalidArgument, NodeNotFound, Unauthenticated
from flotilla.domain.states import (
    NODE_GONE_STATES,
    SELF_MANAGED_PROVIDERS,
    CapacityType,
    EventType,
    NodeState,
    ObjectKind,
    ReplicaState,
    Scope,
)
from flotilla.services import events
from flotilla.services.context import Caller, Context
from flotilla.store.prepared import Prepared, execute, fetch
from flotilla.store.tables import DeploymentRow, ModelVersionRow, NodeRow, ReplicaRow


@dataclass(frozen=True)
class ReplicaReport:
    replica_id: str
    state: ReplicaState
    """starting, ready, stopped or failed."""
    endpoint: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    """Set when the replica's process exited by itself (a crash); the agent restarts it."""
    log_tail: str | None = None
    """The last lines it wrote before a crash."""
    restarts: int = 0


@dataclass(frozen=True)
class DesiredReplica:
    replica_id: str
    deployment_id: str
    model_version_digest: str
    entrypoint: str
    resources: dict[str, Any]
    drain: bool
    """True: stop taking requests, finish the in-flight ones, then stop."""


def hash_node_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def node_for_token(session: AsyncSession, node_id: str, secret: str) -> NodeRow:
    node = await session.scalar(sa.select(NodeRow).where(NodeRow.id == node_id))
    if node is None:
        raise NodeNotFound(f"no node '{node_id}'")
    if node.agent_token_hash is None or not hmac.compare_digest(
        node.agent_token_hash, hash_node_token(secret)
    ):
        raise Unauthenticated("the node token is not valid for this node")
    return node


async def register(
    session: AsyncSession, node: NodeRow, now: datetime, capacity: dict[str, Any] | None = None
) -> None:
    """The agent is up: the node is ready to run replicas (a node already written off stays so)."""
    if node.state in {s.value for s in NODE_GONE_STATES}:
        return
    if node.state in (NodeState.LAUNCHING.value, NodeState.REGISTERING.value):
        node.state = NodeState.READY.value
        node.registered_at = node.registered_at or now
        node.ready_at = now
    node.last_heartbeat_at = now
    if capacity is not None:
        node.capacity = capacity
    node.modified_at = now


_TRANSITIONS = {
    ReplicaState.STARTING: {ReplicaState.PLACED, ReplicaState.READY, ReplicaState.STARTING},
    ReplicaState.READY: {ReplicaState.PLACED, ReplicaState.STARTING},
    ReplicaState.STOPPED: {
        ReplicaState.PENDING,
        ReplicaState.PLACED,
        ReplicaState.STARTING,
        ReplicaState.READY,
        ReplicaState.DRAINING,
    },
    ReplicaState.FAILED: {
        ReplicaState.PLACED,
        ReplicaState.STARTING,
        ReplicaState.READY,
        ReplicaState.DRAINING,
    },
}


async def apply_reports(
    session: AsyncSession, node_pk: int, reports: list[ReplicaReport], now: datetime
) -> None:
    """Record what the agent says about its replicas (only transitions that make sense). A crash
    becomes an event with its exit code and last lines, and the deployment shows why its replicas
    fail until one is ready again."""
    if not reports:
        return
    by_id = {r.replica_id: r for r in reports}
    rows = await session.execute(
        sa.select(ReplicaRow, DeploymentRow)
        .join(DeploymentRow, DeploymentRow.pk == ReplicaRow.deployment_pk)
        .where(ReplicaRow.node_pk == node_pk, ReplicaRow.id.in_(by_id))
    )
    for row, deployment in rows.all():
        report = by_id[row.id]
        if report.exit_code is not None:
            _record_crash(session, row, deployment, report, now)
        elif report.state == ReplicaState.STARTING and report.restarts > row.restarts:
            _record_not_started(session, row, deployment, report, now)
        if ReplicaState(row.state) not in _TRANSITIONS.get(report.state, set()):
            continue
        row.state = report.state.value
        row.modified_at = now
        if report.endpoint:
            row.endpoint = report.endpoint
        if report.reason:
            row.state_reason = report.reason
        if report.state == ReplicaState.STARTING:
            row.started_at = row.started_at or now
        elif report.state == ReplicaState.READY:
            row.ready_at = now
            row.started_at = row.started_at or now
            row.state_reason = None
            if (deployment.status_reason or "").startswith(REPLICA_FAILING):
                deployment.status_reason = None
        else:
            row.stopped_at = now


REPLICA_FAILING = "REPLICA_FAILING"


def _record_crash(
    session: AsyncSession,
    row: ReplicaRow,
    deployment: DeploymentRow,
    report: ReplicaReport,
    now: datetime,
) -> None:
    tail = (report.log_tail or "").strip()
    last = _crash_line(tail) or f"exit code {report.exit_code}"
    _record_failing(
        session,
        row,
        deployment,
        report,
        now,
        reason="REPLICA_CRASHED",
        summary=f"exited with code {report.exit_code}: {last}",
        detail=f"exited with code {report.exit_code} (restart {report.restarts}); "
        f"last lines:\n{tail[-2000:]}",
    )


def _record_not_started(
    session: AsyncSession,
    row: ReplicaRow,
    deployment: DeploymentRow,
    report: ReplicaReport,
    now: datetime,
) -> None:
    """The agent could not fetch the package or build its environment; it retries with back-off."""
    problem = (report.log_tail or report.reason or "").strip()
    last_line = problem.splitlines()[-1] if problem else "unknown error"
    _record_failing(
        session,
        row,
        deployment,
        report,
        now,
        reason="REPLICA_NOT_PREPARED",
        summary=f"could not be prepared: {last_line[:300]}",
        detail=f"could not be prepared (attempt {report.restarts}): {problem[-2000:]}",
    )


def _record_failing(
    session: AsyncSession,
    row: ReplicaRow,
    deployment: DeploymentRow,
    report: ReplicaReport,
    now: datetime,
    *,
    reason: str,
    summary: str,
    detail: str,
) -> None:
    """The deployment shows why its replicas fail (until one is ready), and an event says more."""
    row.restarts = max(row.restarts, report.restarts)
    deployment.status_reason = f"{REPLICA_FAILING}: replica {row.id} {summary}"
    events.record(
        session,
        owner_pk=deployment.owner_pk,
        kind=ObjectKind.DEPLOYMENT,
        object_id=deployment.id,
        reason=reason,
        message=f"replica {row.id} {detail}",
        time=now,
        type=EventType.WARNING,
    )


LIVE = [
    ReplicaState.PLACED.value,
    ReplicaState.STARTING.value,
    ReplicaState.READY.value,
    ReplicaState.DRAINING.value,
]


_R, _D, _V = ReplicaRow.__table__.c, DeploymentRow.__table__.c, ModelVersionRow.__table__.c
_DESIRED = Prepared(
    sa.select(_R.node_pk, _R.id, _R.state, _D.id, _V.digest, _V.entrypoint, _V.resources)
    .join_from(ReplicaRow.__table__, DeploymentRow.__table__, _D.pk == _R.deployment_pk)
    .join(ModelVersionRow.__table__, _V.pk == _R.model_version_pk)
    .where(_R.node_pk.in_(sa.bindparam("node_pks", expanding=True)), _R.state.in_(LIVE))
    .order_by(_R.pk)
)
"""Prebuilt: every agent asks every few seconds."""


async def desired(session: AsyncSession, node_pks: list[int]) -> dict[int, list[DesiredReplica]]:
    """The replicas each of these nodes should run (or drain), in one query."""
    rows = await session.run_sync(fetch, _DESIRED, {"node_pks": node_pks})
    found: dict[int, list[DesiredReplica]] = {pk: [] for pk in node_pks}
    draining = ReplicaState.DRAINING.value
    for node_pk, rid, state, dep_id, digest, entrypoint, resources in rows:
        found[node_pk].append(
            DesiredReplica(rid, dep_id, digest, entrypoint, resources, drain=state == draining)
        )
    return found


async def heartbeat(
    session: AsyncSession, node: NodeRow, reports: list[ReplicaReport], now: datetime
) -> list[DesiredReplica]:
    """One round trip of an agent: its reports in, its desired replicas out. A node written off
    (lost, terminated) gets nothing to run."""
    if node.state in _GONE:
        return []
    await register(session, node, now)
    await apply_reports(session, node.pk, reports, now)
    await session.flush()
    return (await desired(session, [node.pk]))[node.pk]


_GONE = frozenset(s.value for s in NODE_GONE_STATES)
_STARTING = frozenset({NodeState.LAUNCHING.value, NodeState.REGISTERING.value})
_NODES = cast(sa.Table, NodeRow.__table__)
_N = _NODES.c
_NODE_STATES = Prepared(
    sa.select(_N.id, _N.pk, _N.state).where(_N.id.in_(sa.bindparam("ids", expanding=True)))
)
_REGISTERED = Prepared(
    sa.update(_NODES)
    .where(_N.pk.in_(sa.bindparam("pks", expanding=True)), _N.state.in_(_STARTING))
    .values(
        state=NodeState.READY.value,
        registered_at=sa.func.coalesce(
            _N.registered_at, sa.bindparam("now", type_=_N.ready_at.type)
        ),
        ready_at=sa.bindparam("now", type_=_N.ready_at.type),
    )
)
_HEARD_FROM = Prepared(
    sa.update(_NODES)
    .where(_N.pk.in_(sa.bindparam("pks", expanding=True)))
    .values(
        last_heartbeat_at=sa.bindparam("now", type_=_N.ready_at.type),
        modified_at=sa.bindparam("now", type_=_N.ready_at.type),
    )
)


async def node_states(session: AsyncSession, node_ids: list[str]) -> dict[str, tuple[int, str]]:
    """Node id → (pk, state), for the nodes that exist."""
    rows = await session.run_sync(fetch, _NODE_STATES, {"ids": node_ids})
    return {nid: (pk, state) for nid, pk, state in rows}


async def heartbeat_many(
    session: AsyncSession, beats: dict[int, tuple[str, list[ReplicaReport]]], now: datetime
) -> dict[int, list[DesiredReplica]]:
    """Several agents' heartbeats at once (the simulation's agents all talk in one transaction):
    node pk → (its state, read in this transaction; its reports). The same effects as
    ``heartbeat`` for each (``register`` in two batched updates), in a few statements."""
    alive = {pk: reports for pk, (state, reports) in beats.items() if state not in _GONE}
    if not alive:
        return {}
    starting = [pk for pk, (state, _) in beats.items() if state in _STARTING]
    if starting:
        await session.run_sync(execute, _REGISTERED, {"pks": starting, "now": now})
    await session.run_sync(execute, _HEARD_FROM, {"pks": list(alive), "now": now})
    for pk, reports in alive.items():
        await apply_reports(session, pk, reports, now)
    await session.flush()
    return await desired(session, list(alive))


def new_node_token() -> str:
    return "fln_" + secrets.token_urlsafe(32)


async def join(
    ctx: Context,
    session: AsyncSession,
    caller: Caller,
    cluster_id: str,
    nodepool_id: str,
    capacity: dict[str, Any],
    hostname: str,
) -> tuple[NodeRow, str]:
    """A machine the user already has joins a self-managed nodepool: a node row for it, and the
    node token its agent uses from now on (shown once)."""
    from flotilla.services.lookup import nodepool_row, refuse_if_deleting

    caller.require(Scope.WRITE)
    cluster, pool = await nodepool_row(session, caller, cluster_id, nodepool_id)
    refuse_if_deleting(cluster, f"compute cluster '{cluster_id}'")
    refuse_if_deleting(pool, f"nodepool '{nodepool_id}'")
    if cluster.cloud_provider not in SELF_MANAGED_PROVIDERS:
        raise InvalidArgument(
            f"'{cluster_id}' is a {cluster.cloud_provider} cluster: Flotilla launches its nodes. "
            "Machines join self_managed clusters"
        )
    live = await session.scalar(
        sa.select(sa.func.count())
        .select_from(NodeRow)
        .where(
            NodeRow.nodepool_pk == pool.pk,
            NodeRow.state.not_in([s.value for s in NODE_GONE_STATES]),
        )
    )
    if (live or 0) >= pool.max_instances:
        raise Conflict(
            f"nodepool '{nodepool_id}' already has max_instances ({pool.max_instances}) nodes"
        )
    secret = new_node_token()
    now = ctx.now()
    node = NodeRow(
        id=f"{nodepool_id[:40]}-{secrets.token_hex(5)}",
        nodepool_pk=pool.pk,
        instance_type="self-managed",
        capacity_type=CapacityType.ON_DEMAND.value,
        provider_instance_id=hostname[:128],
        state=NodeState.REGISTERING.value,
        price_per_hour=0.0,
        cordoned=False,
        agent_token_hash=hash_node_token(secret),
        capacity=capacity,
        launched_at=now,
        launch_attempted_at=now,
        created_at=now,
        modified_at=now,
    )
    session.add(node)
    await session.flush()
    events.record(
        session,
        owner_pk=cluster.owner_pk,
        kind=ObjectKind.NODE,
        object_id=f"{cluster.id}/{pool.id}/{node.id}",
        reason="NODE_JOINED",
        message=f"machine '{hostname}' joined with {capacity}",
        time=now,
    )
    ctx.hints.notify("nodes")
    return node, secret


async def replica_ids_on(session: AsyncSession, node_pk: int) -> set[str]:
    """Every replica ever placed on this node (logs may arrive after a replica stopped)."""
    return set(
        (await session.scalars(sa.select(ReplicaRow.id).where(ReplicaRow.node_pk == node_pk))).all()
    )


def _crash_line(tail: str) -> str | None:
    """The line that says why a replica died: the runtime's own error line when there is one
    ("model failed to load: ValueError: …"), else the last line."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR flotilla.runtime:"):
            return line.removeprefix("ERROR flotilla.runtime:").strip()
    return lines[-1] if lines else None
