"""What compute cost: node-seconds × price, grouped and clipped to a time range.

Ended nodes are priced from their usage records; running nodes up to now. Grouped by deployment,
each replica is charged its share of its node (the larger of its CPU, memory and accelerator
fraction) for the time it ran; what no replica used shows as ``(idle)``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.catalog import Catalog
from flotilla.domain.errors import InvalidArgument
from flotilla.domain.quantities import parse_cpu, parse_memory
from flotilla.domain.states import NODE_GONE_STATES
from flotilla.services.context import Caller, Context
from flotilla.store.tables import (
    ClusterRow,
    DeploymentRow,
    ModelVersionRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
    UsageRecordRow,
    UserRow,
)

IDLE = "(idle)"


class GroupBy(StrEnum):
    COMPUTE_CLUSTER = "compute_cluster"
    NODEPOOL = "nodepool"
    DEPLOYMENT = "deployment"
    INSTANCE_TYPE = "instance_type"
    CAPACITY_TYPE = "capacity_type"


class UsageRow(BaseModel):
    key: str = Field(
        description="The cluster, 'cluster/nodepool', deployment, instance type or capacity type."
    )
    node_hours: float
    cost: float = Field(description="USD.")


class Usage(BaseModel):
    group_by: GroupBy
    since: datetime
    until: datetime
    rows: list[UsageRow]
    total_cost: float


def _overlap(start: datetime, end: datetime, since: datetime, until: datetime) -> float:
    return max((min(end, until) - max(start, since)).total_seconds(), 0.0)


async def _node_spans(
    session: AsyncSession, caller: Caller, since: datetime, until: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Priced stretches of every node of the caller's clusters (and the system's shared one)."""
    system = sa.select(UserRow.pk).where(UserRow.is_system.is_(True)).scalar_subquery()
    owners = sa.or_(UsageRecordRow.owner_pk == caller.user_pk, UsageRecordRow.owner_pk == system)
    spans = []
    records = await session.execute(
        sa.select(
            UsageRecordRow.compute_cluster,
            UsageRecordRow.nodepool,
            UsageRecordRow.instance_type,
            UsageRecordRow.capacity_type,
            UsageRecordRow.start_at,
            UsageRecordRow.end_at,
            UsageRecordRow.price_per_hour,
        ).where(
            owners,
            UsageRecordRow.deployment.is_(None),
            UsageRecordRow.start_at < until,
            UsageRecordRow.end_at > since,
        )
    )
    for cluster, pool, itype, cap, start, end, price in records.all():
        spans.append(
            {
                "cluster": cluster,
                "pool": pool,
                "instance_type": itype,
                "capacity_type": cap,
                "seconds": _overlap(start, end, since, until),
                "price": price,
            }
        )
    running = await session.execute(
        sa.select(
            ClusterRow.id,
            NodepoolRow.id,
            NodeRow.instance_type,
            NodeRow.capacity_type,
            NodeRow.launched_at,
            NodeRow.price_per_hour,
        )
        .join(NodepoolRow, NodepoolRow.pk == NodeRow.nodepool_pk)
        .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .where(
            sa.or_(ClusterRow.owner_pk == caller.user_pk, ClusterRow.owner_pk == system),
            NodeRow.state.not_in([s.value for s in NODE_GONE_STATES]),
            NodeRow.launched_at.is_not(None),
            NodeRow.launched_at < until,
        )
    )
    for cluster, pool, itype, cap, launched, price in running.all():
        if launched is None:
            continue
        spans.append(
            {
                "cluster": cluster,
                "pool": pool,
                "instance_type": itype,
                "capacity_type": cap,
                "seconds": _overlap(launched, now, since, until),
                "price": price,
            }
        )
    return spans


async def _deployment_costs(
    session: AsyncSession,
    ctx: Context,
    caller: Caller,
    since: datetime,
    until: datetime,
    now: datetime,
) -> dict[str, tuple[float, float]]:
    """Per deployment of the caller: (node-hours share, cost share) of the replicas it ran."""
    result = await session.execute(
        sa.select(
            DeploymentRow.id,
            ReplicaRow.started_at,
            ReplicaRow.stopped_at,
            ModelVersionRow.resources,
            NodeRow.price_per_hour,
            NodeRow.instance_type,
            ClusterRow.cloud_provider,
            ClusterRow.region,
            NodeRow.capacity,
        )
        .join(DeploymentRow, DeploymentRow.pk == ReplicaRow.deployment_pk)
        .join(ModelVersionRow, ModelVersionRow.pk == ReplicaRow.model_version_pk)
        .join(NodeRow, NodeRow.pk == ReplicaRow.node_pk)
        .join(NodepoolRow, NodepoolRow.pk == NodeRow.nodepool_pk)
        .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .where(
            DeploymentRow.owner_pk == caller.user_pk,
            ReplicaRow.started_at.is_not(None),
            ReplicaRow.started_at < until,
        )
    )
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (
        dep_id,
        started,
        stopped,
        resources,
        price,
        itype,
        provider,
        region,
        capacity,
    ) in result.all():
        if started is None:
            continue
        seconds = _overlap(started, stopped or now, since, until)

        share = _share(ctx.catalog, resources, provider, region, itype, capacity)
        totals[dep_id][0] += seconds / 3600 * share
        totals[dep_id][1] += seconds / 3600 * share * price
    return {k: (v[0], v[1]) for k, v in totals.items()}


def _share(
    catalog: Catalog,
    resources: dict[str, Any],
    provider: str,
    region: str,
    itype: str,
    capacity: Any,
) -> float:
    it = catalog.instance_type(provider, region, itype)
    if it is not None:
        cpu, memory, accel = it.allocatable.cpu, it.allocatable.memory, it.allocatable.accelerators
    elif capacity:
        cpu, memory, accel = (
            int(capacity["cpu"]),
            int(capacity["memory"]),
            int(capacity.get("accelerators", 0)),
        )
    else:
        return 1.0
    parts = [
        parse_cpu(resources.get("cpu", "1")) / max(cpu, 1),
        parse_memory(resources.get("memory", "512Mi")) / max(memory, 1),
    ]
    if accel:
        parts.append(int(resources.get("accelerators") or 0) / accel)
    return min(max(parts), 1.0)


async def usage(
    ctx: Context,
    session: AsyncSession,
    caller: Caller,
    group_by: GroupBy,
    since: datetime,
    until: datetime,
) -> Usage:
    if until <= since:
        raise InvalidArgument("until must be after since", fields={"until": "must be after since"})
    now = ctx.now()
    spans = await _node_spans(session, caller, since, until, now)
    groups: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    if group_by == GroupBy.DEPLOYMENT:
        total_hours = sum(s["seconds"] for s in spans) / 3600
        total_cost = sum(s["seconds"] / 3600 * s["price"] for s in spans)
        used = await _deployment_costs(session, ctx, caller, since, until, now)
        for dep, (hours, cost) in used.items():
            groups[dep] = [hours, cost]
        groups[IDLE] = [
            max(total_hours - sum(h for h, _ in used.values()), 0.0),
            max(total_cost - sum(c for _, c in used.values()), 0.0),
        ]
    else:
        for s in spans:
            key = {
                GroupBy.COMPUTE_CLUSTER: s["cluster"],
                GroupBy.NODEPOOL: f"{s['cluster']}/{s['pool']}",
                GroupBy.INSTANCE_TYPE: s["instance_type"],
                GroupBy.CAPACITY_TYPE: s["capacity_type"],
            }[group_by]
            groups[key][0] += s["seconds"] / 3600
            groups[key][1] += s["seconds"] / 3600 * s["price"]
    rows = [
        UsageRow(key=k, node_hours=round(v[0], 6), cost=round(v[1], 6))
        for k, v in sorted(groups.items())
    ]
    return Usage(
        group_by=group_by,
        since=since,
        until=until,
        rows=rows,
        total_cost=round(sum(r.cost for r in rows), 6),
    )
