"""Nodepools (and the nodes in them, read-only): create, read, change, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import (
    CapacityTypeNotAllowed,
    InvalidArgument,
    NodeNotFound,
    NodepoolAlreadyExists,
    NodepoolInUse,
    UnknownInstanceType,
)
from flotilla.domain.resources import DeleteAccepted, Node, NodeCounts, Nodepool, Page
from flotilla.domain.specs import IMMUTABLE_FIELDS, NodepoolSpec
from flotilla.domain.states import (
    SELF_MANAGED_PROVIDERS,
    CapacityType,
    ClusterType,
    NodeState,
    ObjectKind,
    Scope,
)
from flotilla.domain.status import NodepoolFacts, cluster_token_problem, nodepool_status
from flotilla.services import events, running
from flotilla.services.clusters import deployments_on, token_facts
from flotilla.services.context import Caller, Context
from flotilla.services.lookup import (
    add_unique,
    cluster_row,
    nodepool_row,
    patched,
    refuse_if_deleting,
)
from flotilla.services.paging import AnySelect, PageParams, fetch_page, make_page
from flotilla.store.tables import ClusterRow, NodepoolRow, NodeRow, TokenRow


def object_id(cluster: ClusterRow, pool: NodepoolRow | str) -> str:
    return f"{cluster.id}/{pool if isinstance(pool, str) else pool.id}"


def check_against_catalog(ctx: Context, cluster: ClusterRow, spec: NodepoolSpec) -> None:
    """Instance types must exist in the cluster's provider and region; spot must be offered."""
    if cluster.cloud_provider in SELF_MANAGED_PROVIDERS:
        if spec.instance_types:
            raise InvalidArgument(
                "nodes of a self-managed cluster report their own shape when they join; "
                "leave instance_types empty",
                fields={"instance_types": "must be empty for self-managed clusters"},
            )
        return
    if not spec.instance_types:
        raise InvalidArgument(
            "list at least one instance type (see GET /v1/instance_types)",
            fields={"instance_types": "required"},
        )
    offered = []
    for index, type_id in enumerate(spec.instance_types):
        it = ctx.catalog.instance_type(cluster.cloud_provider, cluster.region, type_id)
        if it is None:
            where = f"{cluster.cloud_provider}/{cluster.region}"
            raise UnknownInstanceType(
                f"instance type '{type_id}' is not offered in {where}; list them with "
                f"GET /v1/instance_types?cloud_provider={cluster.cloud_provider}&region={cluster.region}",
                fields={f"instance_types.{index}": f"not offered in {where}"},
            )
        offered.extend(it.allowed_capacity_types)
    if CapacityType.SPOT in spec.capacity_types and CapacityType.SPOT not in offered:
        raise CapacityTypeNotAllowed(
            "none of these instance types is offered as spot; use capacity_types [on_demand]",
            fields={"capacity_types": "spot not offered for these instance types"},
        )


def _select() -> AnySelect:
    stmt: AnySelect = (
        sa.select(NodepoolRow, ClusterRow, TokenRow)
        .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .outerjoin(TokenRow, TokenRow.pk == ClusterRow.token_pk)
    )
    return stmt


def view(
    pool: NodepoolRow,
    cluster: ClusterRow,
    token: TokenRow | None,
    counts: dict[str, int],
    now: datetime,
) -> Nodepool:
    problem = cluster_token_problem(ClusterType(cluster.cluster_type), token_facts(token), now)
    ready = counts.get(NodeState.READY.value, 0)
    launching = counts.get(NodeState.LAUNCHING.value, 0) + counts.get(
        NodeState.REGISTERING.value, 0
    )
    draining = counts.get(NodeState.DRAINING.value, 0) + counts.get(NodeState.TERMINATING.value, 0)
    status, reason = nodepool_status(
        NodepoolFacts(
            deleting=pool.deleting_at is not None or cluster.deleting_at is not None,
            token_problem=problem,
            min_instances=pool.min_instances,
            nodes_ready=ready,
            nodes_launching=launching,
            nodes_draining=draining,
            error_reason=pool.error_reason,
            error_message=pool.error_message,
        )
    )
    return Nodepool(
        id=pool.id,
        compute_cluster=cluster.id,
        description=pool.description,
        instance_types=pool.instance_types,
        min_instances=pool.min_instances,
        max_instances=pool.max_instances,
        capacity_types=[CapacityType(c) for c in pool.capacity_types],
        status=status,
        status_reason=reason,
        nodes=NodeCounts(
            total=sum(counts.values()), ready=ready, launching=launching, draining=draining
        ),
        created_at=pool.created_at,
        modified_at=pool.modified_at,
    )


async def get_nodepool(
    ctx: Context, session: AsyncSession, caller: Caller, cluster_id: str, nodepool_id: str
) -> Nodepool:
    _, pool = await nodepool_row(session, caller, cluster_id, nodepool_id)
    found = (await session.execute(_select().where(NodepoolRow.pk == pool.pk))).one()
    counts = await running.node_counts(session, [pool.pk])
    return view(found[0], found[1], found[2], counts.get(pool.pk, {}), ctx.now())


async def list_nodepools(
    ctx: Context, session: AsyncSession, caller: Caller, cluster_id: str, params: PageParams
) -> Page[Nodepool]:
    cluster = await cluster_row(session, caller, cluster_id)
    stmt = _select().where(NodepoolRow.cluster_pk == cluster.pk).order_by(NodepoolRow.id)
    rows, next_page = await fetch_page(session, stmt, params)
    counts = await running.node_counts(session, [r[0].pk for r in rows])
    now = ctx.now()
    items = [view(r[0], r[1], r[2], counts.get(r[0].pk, {}), now) for r in rows]
    return make_page(items, params, next_page)


async def _writable_cluster(session: AsyncSession, caller: Caller, cluster_id: str) -> ClusterRow:
    caller.require(Scope.WRITE)
    cluster = await cluster_row(session, caller, cluster_id)
    if cluster.cluster_type == ClusterType.SHARED.value:
        caller.require_admin()
    refuse_if_deleting(cluster, f"compute cluster '{cluster_id}'")
    return cluster


async def create_nodepool(
    ctx: Context, session: AsyncSession, caller: Caller, cluster_id: str, spec: NodepoolSpec
) -> Nodepool:
    cluster = await _writable_cluster(session, caller, cluster_id)
    check_against_catalog(ctx, cluster, spec)
    now = ctx.now()
    row = NodepoolRow(
        id=spec.id,
        cluster_pk=cluster.pk,
        description=spec.description,
        instance_types=list(spec.instance_types),
        min_instances=spec.min_instances,
        max_instances=spec.max_instances,
        capacity_types=[c.value for c in spec.capacity_types],
        created_at=now,
        modified_at=now,
    )
    await add_unique(
        session,
        row,
        NodepoolAlreadyExists(f"compute cluster '{cluster_id}' already has a nodepool '{spec.id}'"),
    )
    events.record(
        session,
        owner_pk=cluster.owner_pk,
        kind=ObjectKind.NODEPOOL,
        object_id=object_id(cluster, row),
        reason="NODEPOOL_CREATED",
        message=f"{spec.min_instances}–{spec.max_instances} nodes of "
        f"{', '.join(spec.instance_types) or 'joined machines'} "
        f"({' then '.join(c.value for c in spec.capacity_types)})",
        time=now,
    )
    ctx.hints.notify("nodepools")
    token = await session.get(TokenRow, cluster.token_pk) if cluster.token_pk else None
    return view(row, cluster, token, {}, now)


def spec_of(pool: NodepoolRow) -> NodepoolSpec:
    return NodepoolSpec.model_construct(
        id=pool.id,
        description=pool.description,
        instance_types=list(pool.instance_types),
        min_instances=pool.min_instances,
        max_instances=pool.max_instances,
        capacity_types=[CapacityType(c) for c in pool.capacity_types],
    )


async def update_nodepool(
    ctx: Context,
    session: AsyncSession,
    caller: Caller,
    cluster_id: str,
    nodepool_id: str,
    patch: dict[str, Any],
) -> Nodepool:
    cluster = await _writable_cluster(session, caller, cluster_id)
    _, pool = await nodepool_row(session, caller, cluster_id, nodepool_id)
    refuse_if_deleting(pool, f"nodepool '{nodepool_id}'")
    before = spec_of(pool)
    spec = patched(NodepoolSpec, before, patch, IMMUTABLE_FIELDS[NodepoolSpec])
    check_against_catalog(ctx, cluster, spec)
    changes = [
        f"{name} {getattr(before, name)}→{getattr(spec, name)}"
        for name in ("min_instances", "max_instances", "instance_types", "capacity_types")
        if getattr(before, name) != getattr(spec, name)
    ]
    pool.description = spec.description
    pool.instance_types = list(spec.instance_types)
    pool.min_instances, pool.max_instances = spec.min_instances, spec.max_instances
    pool.capacity_types = [c.value for c in spec.capacity_types]
    pool.modified_at = ctx.now()
    if changes:
        events.record(
            session,
            owner_pk=cluster.owner_pk,
            kind=ObjectKind.NODEPOOL,
            object_id=object_id(cluster, pool),
            reason="NODEPOOL_UPDATED",
            message="; ".join(changes),
            time=pool.modified_at,
        )
        ctx.hints.notify("nodepools")
    await session.flush()
    return await get_nodepool(ctx, session, caller, cluster_id, nodepool_id)


async def mark_deleted(
    ctx: Context, session: AsyncSession, cluster: ClusterRow, pool: NodepoolRow
) -> bool:
    """Mark ``pool`` deleting; remove it now if nothing runs there. True when removed."""
    now = ctx.now()
    if pool.deleting_at is None:
        pool.deleting_at = now
        pool.modified_at = now
    if await running.nodepools_running_anything(session, [pool.pk]):
        events.record(
            session,
            owner_pk=cluster.owner_pk,
            kind=ObjectKind.NODEPOOL,
            object_id=object_id(cluster, pool),
            reason="NODEPOOL_DELETING",
            message="deleting: replicas are drained and nodes terminated before the nodepool goes",
            time=now,
        )
        return False
    events.record(
        session,
        owner_pk=cluster.owner_pk,
        kind=ObjectKind.NODEPOOL,
        object_id=object_id(cluster, pool),
        reason="NODEPOOL_DELETED",
        message="deleted; nothing was running",
        time=now,
    )
    await session.delete(pool)
    await session.flush()
    return True


async def delete_nodepool(
    ctx: Context,
    session: AsyncSession,
    caller: Caller,
    cluster_id: str,
    nodepool_id: str,
    *,
    cascade: bool = False,
) -> DeleteAccepted:
    """Deployments that use the nodepool block the delete (409 ``NODEPOOL_IN_USE``) unless
    ``cascade``, which deletes them too."""
    from flotilla.services import deployments  # deployments depends on this module

    cluster = await cluster_row(session, caller, cluster_id)
    caller.require(Scope.WRITE)
    if cluster.cluster_type == ClusterType.SHARED.value:
        caller.require_admin()
    _, pool = await nodepool_row(session, caller, cluster_id, nodepool_id)
    users = await deployments_on(session, [pool.pk])
    if users and not cascade:
        names = ", ".join(d.id for d in users)
        raise NodepoolInUse(
            f"nodepool '{nodepool_id}' is used by deployments: {names}. Delete or move them first, "
            "or delete with cascade=true to delete them too",
            fields={"deployments": names},
        )
    for deployment in users:
        await deployments.mark_deleted(ctx, session, deployment)
    removed = await mark_deleted(ctx, session, cluster, pool)
    ctx.hints.notify("nodepools")
    return DeleteAccepted(id=nodepool_id, status="deleted" if removed else "deleting")


def node_view(node: NodeRow, cluster_id: str, nodepool_id: str) -> Node:
    return Node(
        id=node.id,
        compute_cluster=cluster_id,
        nodepool=nodepool_id,
        instance_type=node.instance_type,
        capacity_type=CapacityType(node.capacity_type),
        provider_instance_id=node.provider_instance_id,
        state=NodeState(node.state),
        state_reason=node.state_reason,
        price_per_hour=node.price_per_hour,
        launched_at=node.launched_at,
        registered_at=node.registered_at,
        ready_at=node.ready_at,
        draining_at=node.draining_at,
        terminating_at=node.terminating_at,
        terminated_at=node.terminated_at,
        last_heartbeat_at=node.last_heartbeat_at,
        interruption_notice_at=node.interruption_notice_at,
        created_at=node.created_at,
        modified_at=node.modified_at,
    )


async def list_nodes(
    session: AsyncSession,
    caller: Caller,
    cluster_id: str,
    nodepool_id: str,
    params: PageParams,
    *,
    state: NodeState | None = None,
) -> Page[Node]:
    _, pool = await nodepool_row(session, caller, cluster_id, nodepool_id)
    stmt = sa.select(NodeRow).where(NodeRow.nodepool_pk == pool.pk)
    if state is not None:
        stmt = stmt.where(NodeRow.state == state.value)
    rows, next_page = await fetch_page(session, stmt.order_by(NodeRow.pk.desc()), params)
    return make_page([node_view(r[0], cluster_id, nodepool_id) for r in rows], params, next_page)


async def get_node(
    session: AsyncSession, caller: Caller, cluster_id: str, nodepool_id: str, node_id: str
) -> Node:
    _, pool = await nodepool_row(session, caller, cluster_id, nodepool_id)
    node = await session.scalar(
        sa.select(NodeRow).where(NodeRow.nodepool_pk == pool.pk, NodeRow.id == node_id)
    )
    if node is None:
        raise NodeNotFound(f"nodepool '{cluster_id}/{nodepool_id}' has no node '{node_id}'")
    return node_view(node, cluster_id, nodepool_id)
