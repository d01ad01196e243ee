"""Deployments: a model version served on one or more nodepools."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import DeploymentAlreadyExists, ModelDoesNotFit, NodepoolNotFound
from flotilla.domain.resources import DeleteAccepted, Deployment, Page, Replica
from flotilla.domain.specs import (
    IMMUTABLE_FIELDS,
    AutoscaleConfig,
    DeploymentSpec,
    NodepoolRef,
    Resources,
)
from flotilla.domain.states import (
    REPLICA_ENDED_STATES,
    ClusterType,
    DeploymentStatus,
    ObjectKind,
    ReplicaState,
    SchedulingChoice,
    Scope,
)
from flotilla.domain.status import cluster_token_problem, deployment_reason
from flotilla.services import events, running
from flotilla.services.clusters import token_facts
from flotilla.services.context import Caller, Context
from flotilla.services.lookup import (
    DEFAULT_NODEPOOL_ID,
    SHARED_CLUSTER_ID,
    add_unique,
    deployment_row,
    model_row,
    nodepool_row,
    patched,
    refuse_if_deleting,
    visible_cluster,
)
from flotilla.services.models import resolve_version
from flotilla.services.paging import AnySelect, PageParams, fetch_page, make_page
from flotilla.store.tables import (
    ClusterRow,
    DeploymentNodepoolRow,
    DeploymentRow,
    ModelRow,
    ModelVersionRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
    TokenRow,
)


@dataclass(frozen=True)
class Target:
    """A nodepool a deployment names, resolved."""

    ref: NodepoolRef
    cluster: ClusterRow
    pool: NodepoolRow


async def _resolve_targets(
    ctx: Context, session: AsyncSession, caller: Caller, spec: DeploymentSpec, resources: Resources
) -> list[Target]:
    refs = spec.nodepools or [
        NodepoolRef(compute_cluster=SHARED_CLUSTER_ID, nodepool=DEFAULT_NODEPOOL_ID)
    ]
    targets = []
    for index, ref in enumerate(refs):
        try:
            cluster, pool = await nodepool_row(session, caller, ref.compute_cluster, ref.nodepool)
        except NodepoolNotFound as error:
            error.fields = {f"nodepools.{index}": "not found"}
            raise
        refuse_if_deleting(cluster, f"compute cluster '{cluster.id}'")
        refuse_if_deleting(pool, f"nodepool '{cluster.id}/{pool.id}'")
        _check_fit(ctx, cluster, pool, resources, index)
        targets.append(Target(ref=ref, cluster=cluster, pool=pool))
    return targets


def _check_fit(
    ctx: Context, cluster: ClusterRow, pool: NodepoolRow, need: Resources, index: int
) -> None:
    """A replica must fit on at least one of the nodepool's instance types."""
    if not pool.instance_types:  # self-managed: shapes are known when machines join
        return
    for type_id in pool.instance_types:
        it = ctx.catalog.instance_type(cluster.cloud_provider, cluster.region, type_id)
        if it is None:
            continue
        alloc = it.allocatable
        accel_ok = need.accelerators <= alloc.accelerators and (
            need.accelerators == 0
            or need.accelerator_type is None
            or _accel_matches(need.accelerator_type, alloc.accelerator_type)
        )
        if need.cpu <= alloc.cpu and need.memory <= alloc.memory and accel_ok:
            return
    raise ModelDoesNotFit(
        f"a replica needs {need.model_dump(mode='json', exclude_defaults=False)}, more than any instance "
        f"type of nodepool '{cluster.id}/{pool.id}' can hold after node overhead; choose a larger type",
        fields={f"nodepools.{index}": "no instance type fits the model's resources"},
    )


def _accel_matches(pattern: str, accelerator_type: str | None) -> bool:
    return fnmatch.fnmatch((accelerator_type or "").lower(), pattern.lower())


def _select() -> AnySelect:
    return sa.select(DeploymentRow, ModelRow.id).join(
        ModelRow, ModelRow.pk == DeploymentRow.model_pk
    )


async def _views(
    ctx: Context, session: AsyncSession, caller: Caller, rows: list[tuple[DeploymentRow, str]]
) -> list[Deployment]:
    pks = [row.pk for row, _ in rows]
    if not pks:
        return []
    refs: dict[int, list[tuple[NodepoolRef, str | None]]] = {pk: [] for pk in pks}
    now = ctx.now()
    links = await session.execute(
        sa.select(DeploymentNodepoolRow, NodepoolRow.id, ClusterRow, TokenRow)
        .join(NodepoolRow, NodepoolRow.pk == DeploymentNodepoolRow.nodepool_pk)
        .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .outerjoin(TokenRow, TokenRow.pk == ClusterRow.token_pk)
        .where(DeploymentNodepoolRow.deployment_pk.in_(pks))
        .order_by(DeploymentNodepoolRow.deployment_pk, DeploymentNodepoolRow.position)
    )
    for link, pool_id, cluster, token in links.all():
        problem = cluster_token_problem(ClusterType(cluster.cluster_type), token_facts(token), now)
        ref = NodepoolRef.model_construct(
            compute_cluster=cluster.id, nodepool=pool_id, priority=link.priority
        )
        refs[link.deployment_pk].append((ref, problem))
    counts: dict[int, dict[str, int]] = {pk: {} for pk in pks}
    states = await session.execute(
        sa.select(ReplicaRow.deployment_pk, ReplicaRow.state, sa.func.count())
        .where(
            ReplicaRow.deployment_pk.in_(pks),
            ReplicaRow.state.not_in([st.value for st in REPLICA_ENDED_STATES]),
        )
        .group_by(ReplicaRow.deployment_pk, ReplicaRow.state)
    )
    for deployment_pk, state, count in states.all():
        counts[deployment_pk][state] = count
    resolved = await _resolved_versions(
        session, [(row.model_pk, row.model_version) for row, _ in rows]
    )
    return [
        _view(
            caller,
            row,
            model_id,
            refs[row.pk],
            counts[row.pk],
            resolved.get((row.model_pk, row.model_version)),
        )
        for row, model_id in rows
    ]


async def _resolved_versions(
    session: AsyncSession, wanted: list[tuple[int, str]]
) -> dict[tuple[int, str], str]:
    model_pks = {model_pk for model_pk, _ in wanted}
    result = await session.execute(
        sa.select(ModelVersionRow.model_pk, ModelVersionRow.id)
        .where(ModelVersionRow.model_pk.in_(model_pks))
        .order_by(ModelVersionRow.pk)
    )
    found: dict[tuple[int, str], str] = {}
    for model_pk, version_id in result.all():
        found[(model_pk, "latest")] = version_id  # ordered by pk: the last one wins
        found[(model_pk, version_id)] = version_id
    return found


def _view(
    caller: Caller,
    row: DeploymentRow,
    model_id: str,
    refs: list[tuple[NodepoolRef, str | None]],
    counts: dict[str, int],
    resolved: str | None,
) -> Deployment:
    reason = deployment_reason(
        row.status_reason,
        [(f"{ref.compute_cluster}/{ref.nodepool}", problem) for ref, problem in refs],
    )

    status = (
        DeploymentStatus.DELETING
        if row.deleting_at
        else (DeploymentStatus.ENABLED if row.enabled else DeploymentStatus.DISABLED)
    )
    return Deployment.model_construct(
        id=row.id,
        description=row.description,
        model=model_id,
        model_version=row.model_version,
        nodepools=[ref for ref, _ in refs],
        scheduling_choice=SchedulingChoice(row.scheduling_choice),
        autoscale_config=AutoscaleConfig.model_construct(**row.autoscale_config),
        status=status,
        owner=caller.user_id,
        resolved_model_version=resolved,
        status_reason=reason,
        replicas={
            state.value: counts[state.value] for state in ReplicaState if state.value in counts
        },
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


async def get_deployment(
    ctx: Context, session: AsyncSession, caller: Caller, deployment_id: str
) -> Deployment:
    row = await deployment_row(session, caller, deployment_id)
    model_id = await session.scalar(sa.select(ModelRow.id).where(ModelRow.pk == row.model_pk))
    assert model_id is not None
    return (await _views(ctx, session, caller, [(row, model_id)]))[0]


async def list_deployments(
    ctx: Context,
    session: AsyncSession,
    caller: Caller,
    params: PageParams,
    *,
    compute_cluster: str | None = None,
    nodepool: str | None = None,
    model: str | None = None,
) -> Page[Deployment]:
    stmt = _select().where(DeploymentRow.owner_pk == caller.user_pk)
    if model is not None:
        stmt = stmt.where(ModelRow.id == model)
    if compute_cluster is not None or nodepool is not None:
        on = (
            sa.select(DeploymentNodepoolRow.deployment_pk)
            .join(NodepoolRow, NodepoolRow.pk == DeploymentNodepoolRow.nodepool_pk)
            .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
            .where(visible_cluster(caller))
        )
        if compute_cluster is not None:
            on = on.where(ClusterRow.id == compute_cluster)
        if nodepool is not None:
            on = on.where(NodepoolRow.id == nodepool)
        stmt = stmt.where(DeploymentRow.pk.in_(on))
    rows, next_page = await fetch_page(session, stmt.order_by(DeploymentRow.id), params)
    items = await _views(ctx, session, caller, [(r[0], r[1]) for r in rows])
    return make_page(items, params, next_page)


def _link_rows(deployment_pk: int, targets: list[Target]) -> list[DeploymentNodepoolRow]:
    return [
        DeploymentNodepoolRow(
            deployment_pk=deployment_pk, nodepool_pk=t.pool.pk, priority=t.ref.priority, position=i
        )
        for i, t in enumerate(targets)
    ]


def _targets_text(targets: list[Target]) -> str:
    return ", ".join(f"{t.cluster.id}/{t.pool.id} (priority {t.ref.priority})" for t in targets)


async def create_deployment(
    ctx: Context, session: AsyncSession, caller: Caller, spec: DeploymentSpec
) -> Deployment:
    caller.require(Scope.WRITE)
    model = await model_row(session, caller, spec.model)
    version = await resolve_version(session, model, spec.model_version)
    targets = await _resolve_targets(
        ctx, session, caller, spec, Resources.model_validate(version.resources)
    )
    now = ctx.now()
    row = DeploymentRow(
        id=spec.id,
        owner_pk=caller.user_pk,
        description=spec.description,
        model_pk=model.pk,
        model_version=spec.model_version,
        scheduling_choice=spec.scheduling_choice.value,
        autoscale_config=spec.autoscale_config.model_dump(mode="json"),
        enabled=spec.status == DeploymentStatus.ENABLED,
        created_at=now,
        modified_at=now,
    )
    await add_unique(
        session, row, DeploymentAlreadyExists(f"you already have a deployment '{spec.id}'")
    )
    session.add_all(_link_rows(row.pk, targets))
    events.record(
        session,
        owner_pk=caller.user_pk,
        kind=ObjectKind.DEPLOYMENT,
        object_id=spec.id,
        reason="DEPLOYMENT_CREATED",
        message=f"model {model.id} version {spec.model_version} ({version.id}) on {_targets_text(targets)}; "
        f"{spec.autoscale_config.min_replicas}–{spec.autoscale_config.max_replicas} replicas",
        time=now,
    )
    ctx.hints.notify("deployments")
    await session.flush()
    return await get_deployment(ctx, session, caller, spec.id)


async def _spec_of(session: AsyncSession, row: DeploymentRow, model_id: str) -> DeploymentSpec:
    result = await session.execute(
        sa.select(DeploymentNodepoolRow.priority, NodepoolRow.id, ClusterRow.id)
        .join(NodepoolRow, NodepoolRow.pk == DeploymentNodepoolRow.nodepool_pk)
        .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .where(DeploymentNodepoolRow.deployment_pk == row.pk)
        .order_by(DeploymentNodepoolRow.position)
    )
    refs = [
        NodepoolRef.model_construct(compute_cluster=cluster_id, nodepool=pool_id, priority=priority)
        for priority, pool_id, cluster_id in result.all()
    ]
    return DeploymentSpec.model_construct(
        id=row.id,
        description=row.description,
        model=model_id,
        model_version=row.model_version,
        nodepools=refs,
        scheduling_choice=SchedulingChoice(row.scheduling_choice),
        autoscale_config=AutoscaleConfig.model_construct(**row.autoscale_config),
        status=DeploymentStatus.ENABLED if row.enabled else DeploymentStatus.DISABLED,
    )


async def update_deployment(
    ctx: Context, session: AsyncSession, caller: Caller, deployment_id: str, patch: dict[str, Any]
) -> Deployment:
    caller.require(Scope.WRITE)
    row = await deployment_row(session, caller, deployment_id)
    refuse_if_deleting(row, f"deployment '{deployment_id}'")
    model = await session.get(ModelRow, row.model_pk)
    assert model is not None
    before = await _spec_of(session, row, model.id)
    spec = patched(DeploymentSpec, before, patch, IMMUTABLE_FIELDS[DeploymentSpec])
    version = await resolve_version(session, model, spec.model_version)
    targets = await _resolve_targets(
        ctx, session, caller, spec, Resources.model_validate(version.resources)
    )
    old, new = before.model_dump(mode="json"), spec.model_dump(mode="json")
    changed = [name for name in new if old.get(name) != new[name]]
    row.description = spec.description
    row.model_version = spec.model_version
    row.scheduling_choice = spec.scheduling_choice.value
    row.autoscale_config = spec.autoscale_config.model_dump(mode="json")
    row.enabled = spec.status == DeploymentStatus.ENABLED
    row.modified_at = ctx.now()
    if "nodepools" in patch:
        await session.execute(
            sa.delete(DeploymentNodepoolRow).where(DeploymentNodepoolRow.deployment_pk == row.pk)
        )
        session.add_all(_link_rows(row.pk, targets))
    if changed:
        events.record(
            session,
            owner_pk=caller.user_pk,
            kind=ObjectKind.DEPLOYMENT,
            object_id=row.id,
            reason="DEPLOYMENT_UPDATED",
            message="changed: " + ", ".join(sorted(changed)),
            time=row.modified_at,
        )
        ctx.hints.notify("deployments")
    await session.flush()
    return await get_deployment(ctx, session, caller, deployment_id)


async def mark_deleted(ctx: Context, session: AsyncSession, row: DeploymentRow) -> bool:
    """Mark deleting; remove at once when no replica runs. True when removed."""
    now = ctx.now()
    if row.deleting_at is None:
        row.deleting_at = now
        row.modified_at = now
    if await running.deployment_running_anything(session, row.pk):
        events.record(
            session,
            owner_pk=row.owner_pk,
            kind=ObjectKind.DEPLOYMENT,
            object_id=row.id,
            reason="DEPLOYMENT_DELETING",
            message="deleting: replicas finish their in-flight requests, then stop",
            time=now,
        )
        ctx.hints.notify("deployments")
        return False
    events.record(
        session,
        owner_pk=row.owner_pk,
        kind=ObjectKind.DEPLOYMENT,
        object_id=row.id,
        reason="DEPLOYMENT_DELETED",
        message="deleted; no replica was running",
        time=now,
    )
    await session.delete(row)
    await session.flush()
    return True


async def delete_deployment(
    ctx: Context, session: AsyncSession, caller: Caller, deployment_id: str
) -> DeleteAccepted:
    caller.require(Scope.WRITE)
    row = await deployment_row(session, caller, deployment_id)
    removed = await mark_deleted(ctx, session, row)
    return DeleteAccepted(id=deployment_id, status="deleted" if removed else "deleting")


async def list_replicas(
    session: AsyncSession, caller: Caller, deployment_id: str, params: PageParams
) -> Page[Replica]:
    row = await deployment_row(session, caller, deployment_id)
    stmt: AnySelect = (
        sa.select(ReplicaRow, ModelVersionRow.id, NodepoolRow.id, ClusterRow.id)
        .join(ModelVersionRow, ModelVersionRow.pk == ReplicaRow.model_version_pk)
        .outerjoin(NodepoolRow, NodepoolRow.pk == ReplicaRow.nodepool_pk)
        .outerjoin(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
        .where(ReplicaRow.deployment_pk == row.pk)
        .order_by(ReplicaRow.pk)
    )
    rows, next_page = await fetch_page(session, stmt, params)
    node_ids = await _node_ids(session, [r[0].node_pk for r in rows if r[0].node_pk is not None])
    items = [
        Replica(
            id=replica.id,
            deployment=deployment_id,
            model_version=version_id,
            compute_cluster=cluster_id,
            nodepool=pool_id,
            node=node_ids.get(replica.node_pk) if replica.node_pk else None,
            state=ReplicaState(replica.state),
            state_reason=replica.state_reason,
            endpoint=replica.endpoint,
            created_at=replica.created_at,
            modified_at=replica.modified_at,
        )
        for replica, version_id, pool_id, cluster_id in rows
    ]
    return make_page(items, params, next_page)


async def _node_ids(session: AsyncSession, node_pks: list[int]) -> dict[int, str]:
    if not node_pks:
        return {}
    result = await session.execute(
        sa.select(NodeRow.pk, NodeRow.id).where(NodeRow.pk.in_(node_pks))
    )
    return dict(result.all())
