"""What gateways need to route predictions: every deployment, its owner, and its ready replicas.

A replica is routable while it is ``ready``, has an endpoint, runs on a node that has not gone,
and its cluster can act (its token is valid). Draining replicas get no new requests: they are
simply absent here. A deployment whose every nodepool is on a cluster that cannot act is
``compute_stopped``: its requests get a clear error instead of waiting for replicas that will not
come.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import InvalidArgument
from flotilla.domain.states import (
    NODE_GONE_STATES,
    ClusterType,
    DeploymentStatus,
    NodeState,
    ReplicaState,
)
from flotilla.domain.status import cluster_token_problem, deployment_reason
from flotilla.services import traffic
from flotilla.services.clusters import token_facts
from flotilla.services.context import Context
from flotilla.store.tables import (
    ClusterRow,
    DeploymentNodepoolRow,
    DeploymentRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
    TokenRow,
    UserRow,
)

UNROUTABLE_NODE_STATES = frozenset({*NODE_GONE_STATES, NodeState.TERMINATING})


@dataclass(frozen=True)
class RoutableReplica:
    id: str
    endpoint: str


@dataclass(frozen=True)
class DeploymentRoute:
    pk: int
    id: str
    owner: str
    status: DeploymentStatus
    status_reason: str | None
    compute_stopped: bool
    """Every nodepool of the deployment is on a cluster that cannot act (TOKEN_REVOKED)."""
    replicas: list[RoutableReplica] = field(default_factory=list)


@dataclass(frozen=True)
class RouteTable:
    deployments: list[DeploymentRoute]
    etag: str


def _status(row: DeploymentRow) -> DeploymentStatus:
    if row.deleting_at is not None:
        return DeploymentStatus.DELETING
    return DeploymentStatus.ENABLED if row.enabled else DeploymentStatus.DISABLED


async def _pool_problems(ctx: Context, session: AsyncSession) -> dict[int, list[tuple[str, str]]]:
    """Per deployment pk: (``cluster/nodepool``, problem or "") for each of its nodepools."""
    now = ctx.now()
    result = await session.execute(
        sa.select(
            DeploymentNodepoolRow.deployment_pk,
            NodepoolRow.pk,
            NodepoolRow.id,
            ClusterRow.id,
            ClusterRow.cluster_type,
            TokenRow,
        )
        .join(NodepoolRow, NodepoolRow.pk == DeploymentNodepoolRow.nodepool_pk)
        .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .outerjoin(TokenRow, TokenRow.pk == ClusterRow.token_pk)
        .order_by(DeploymentNodepoolRow.deployment_pk, DeploymentNodepoolRow.position)
    )
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for deployment_pk, _, pool_id, cluster_id, cluster_type, token in result.all():
        problem = cluster_token_problem(ClusterType(cluster_type), token_facts(token), now)
        found[deployment_pk].append((f"{cluster_id}/{pool_id}", problem or ""))
    return found


async def _stopped_nodepools(ctx: Context, session: AsyncSession) -> set[int]:
    """Nodepools on clusters that cannot act: their replicas get no requests."""
    now = ctx.now()
    result = await session.execute(
        sa.select(NodepoolRow.pk, ClusterRow.cluster_type, TokenRow)
        .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .outerjoin(TokenRow, TokenRow.pk == ClusterRow.token_pk)
        .where(ClusterRow.cluster_type != ClusterType.SHARED.value)
    )
    return {
        pk
        for pk, cluster_type, token in result.all()
        if cluster_token_problem(ClusterType(cluster_type), token_facts(token), now)
    }


async def _routable_replicas(
    session: AsyncSession, stopped_pools: set[int]
) -> dict[int, list[RoutableReplica]]:
    result = await session.execute(
        sa.select(
            ReplicaRow.deployment_pk, ReplicaRow.id, ReplicaRow.endpoint, ReplicaRow.nodepool_pk
        )
        .outerjoin(NodeRow, NodeRow.pk == ReplicaRow.node_pk)
        .where(
            ReplicaRow.state == ReplicaState.READY.value,
            ReplicaRow.endpoint.is_not(None),
            sa.or_(
                NodeRow.pk.is_(None),
                NodeRow.state.not_in([s.value for s in UNROUTABLE_NODE_STATES]),
            ),
        )
        .order_by(ReplicaRow.deployment_pk, ReplicaRow.id)
    )
    found: dict[int, list[RoutableReplica]] = defaultdict(list)
    for deployment_pk, replica_id, endpoint, nodepool_pk in result.all():
        if endpoint and nodepool_pk not in stopped_pools:
            found[deployment_pk].append(RoutableReplica(id=replica_id, endpoint=endpoint))
    return found


async def route_table(ctx: Context, session: AsyncSession) -> RouteTable:
    """Every deployment with its routable replicas, and an etag that changes when any of it does."""
    problems = await _pool_problems(ctx, session)
    replicas = await _routable_replicas(session, await _stopped_nodepools(ctx, session))
    rows = await session.execute(
        sa.select(DeploymentRow, UserRow.id)
        .join(UserRow, UserRow.pk == DeploymentRow.owner_pk)
        .order_by(DeploymentRow.pk)
    )
    routes = []
    for row, owner in rows.all():
        pools = problems.get(row.pk, [])
        reason = deployment_reason(row.status_reason, pools)

        routes.append(
            DeploymentRoute(
                pk=row.pk,
                id=row.id,
                owner=owner,
                status=_status(row),
                status_reason=reason,
                compute_stopped=bool(pools) and all(problem for _, problem in pools),
                replicas=replicas.get(row.pk, []),
            )
        )
    return RouteTable(deployments=routes, etag=etag_of(routes))


def etag_of(routes: list[DeploymentRoute]) -> str:
    payload = json.dumps([asdict(r) for r in routes], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


MAX_SAMPLE_SECONDS = 3600.0
"""Longest interval one sample may cover."""
MAX_CLOCK_SKEW_SECONDS = 60.0
"""How far ahead of the server's clock a sample may end (gateways run on other machines)."""


async def record_traffic(
    ctx: Context, session: AsyncSession, gateway: str, samples: list[traffic.Sample]
) -> tuple[int, int]:
    """Record a gateway's samples; answers (recorded, ignored). Samples of deployments that no
    longer exist are ignored (a deployment deleted since the gateway saw it is not an error);
    a sample whose interval is inverted, too long or in the future is refused whole."""
    now = ctx.now().timestamp()
    for i, sample in enumerate(samples):
        if sample.end_s < sample.start_s:
            raise InvalidArgument(
                "a sample must end after it starts", fields={f"samples.{i}.end_s": "before start_s"}
            )
        if sample.end_s - sample.start_s > MAX_SAMPLE_SECONDS:
            raise InvalidArgument(
                f"a sample covers at most {MAX_SAMPLE_SECONDS:.0f} s",
                fields={f"samples.{i}.start_s": "interval too long"},
            )
        if sample.end_s > now + MAX_CLOCK_SKEW_SECONDS:
            raise InvalidArgument(
                "a sample ends in the future; check the gateway machine's clock",
                fields={f"samples.{i}.end_s": "in the future"},
            )
    pks = {s.deployment_pk for s in samples}
    known = set(
        (await session.scalars(sa.select(DeploymentRow.pk).where(DeploymentRow.pk.in_(pks)))).all()
    )
    kept = [s for s in samples if s.deployment_pk in known]
    await traffic.record(session, gateway, kept)
    return len(kept), len(samples) - len(kept)
