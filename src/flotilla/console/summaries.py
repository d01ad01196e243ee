"""Figures several pages show, gathered through the services: replicas per nodepool, cost so
far, recent events."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.resources import Deployment, Event
from flotilla.domain.states import REPLICA_ENDED_STATES, ObjectKind
from flotilla.services import deployments, events, usage
from flotilla.services.context import Caller, Context
from flotilla.services.paging import MAX_PER_PAGE, PageParams
from flotilla.services.usage import GroupBy

ALL = PageParams(per_page=MAX_PER_PAGE)
SINCE_EVER = datetime(1970, 1, 1, tzinfo=UTC)
EVENTS_SHOWN = 30


async def replicas_by_nodepool(
    session: AsyncSession, caller: Caller, of: list[Deployment]
) -> Counter[str]:
    """Replicas not yet ended, per ``cluster/nodepool`` (the caller's deployments only)."""
    counts: Counter[str] = Counter()
    for deployment in of:
        if not deployment.replicas:
            continue
        page = await deployments.list_replicas(session, caller, deployment.id, ALL)
        for replica in page.items:
            if replica.state not in REPLICA_ENDED_STATES and replica.nodepool:
                counts[f"{replica.compute_cluster}/{replica.nodepool}"] += 1
    return counts


async def cost_so_far(
    ctx: Context, session: AsyncSession, caller: Caller, group_by: GroupBy
) -> dict[str, float]:
    """Cost of everything ever run, by the usage key (cluster, ``cluster/nodepool``,
    deployment, instance type)."""
    found = await usage.usage(ctx, session, caller, group_by, SINCE_EVER, ctx.now())
    return {row.key: row.cost for row in found.rows}


def cluster_cost(costs_by_nodepool: dict[str, float], cluster_id: str) -> float:
    return sum(cost for key, cost in costs_by_nodepool.items() if key.startswith(cluster_id + "/"))


async def recent_events(
    session: AsyncSession, caller: Caller, object_id: str, kinds: set[ObjectKind]
) -> list[Event]:
    """The newest events of an object and of what is below it (``gpu-east`` also gives
    ``gpu-east/a10-pool``), of these kinds only (a model may share a deployment's id)."""
    page = await events.list_events(
        session, caller, PageParams(per_page=EVENTS_SHOWN * 2), object_id=object_id
    )
    return [e for e in page.items if e.object_kind in kinds][:EVENTS_SHOWN]
