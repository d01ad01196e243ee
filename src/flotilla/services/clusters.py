"""Compute clusters: create, read, change, delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import (
    ClusterAlreadyExists,
    ClusterHasDeployments,
    ClusterNotFound,
    InvalidArgument,
    PermissionDenied,
    TokenNotUsable,
)
from flotilla.domain.resources import ComputeCluster, DeleteAccepted, Page
from flotilla.domain.specs import IMMUTABLE_FIELDS, ComputeClusterSpec
from flotilla.domain.states import (
    SELF_MANAGED_PROVIDERS,
    ClusterType,
    EventType,
    ManagedBy,
    ObjectKind,
    Scope,
    TokenStatus,
)
from flotilla.domain.status import (
    ClusterFacts,
    TokenFacts,
    cluster_status,
    cluster_token_problem,
    token_status,
)
from flotilla.services import events, tokens
from flotilla.services.catalog import check_region
from flotilla.services.context import Caller, Context
from flotilla.services.lookup import (
    SHARED_CLUSTER_ID,
    SYSTEM_OWNER,
    add_unique,
    cluster_row,
    patched,
    refuse_if_deleting,
    visible_cluster,
)
from flotilla.services.paging import AnySelect, PageParams, make_page
from flotilla.store.point import PointQuery
from flotilla.store.tables import (
    ClusterRow,
    DeploymentNodepoolRow,
    DeploymentRow,
    NodepoolRow,
    TokenRow,
)


def token_facts(token: TokenRow | None) -> TokenFacts | None:
    return (
        None
        if token is None
        else TokenFacts(revoked_at=token.revoked_at, expires_at=token.expires_at)
    )


@cache
def _select() -> AnySelect:
    """A cluster's view in one row: its columns, its token's facts, its nodepool count (built
    once: constructing a statement costs more than running it)."""
    nodepools = (
        sa.select(sa.func.count())
        .where(NodepoolRow.cluster_pk == ClusterRow.pk)
        .correlate(ClusterRow)
        .scalar_subquery()
    )
    c = ClusterRow
    return sa.select(
        c.pk,
        c.id,
        c.description,
        c.cluster_type,
        c.cloud_provider,
        c.region,
        c.managed_by,
        c.deleting_at,
        c.created_at,
        c.modified_at,
        TokenRow.id.label("token_id"),
        TokenRow.revoked_at.label("token_revoked_at"),
        TokenRow.expires_at.label("token_expires_at"),
        nodepools.label("nodepool_count"),
    ).outerjoin(TokenRow, TokenRow.pk == c.token_pk)


_VIEW_COLUMNS = (
    "pk",
    "id",
    "description",
    "cluster_type",
    "cloud_provider",
    "region",
    "managed_by",
    "deleting_at",
    "created_at",
    "modified_at",
)


def _view(caller: Caller, row: Any, now: datetime) -> ComputeCluster:
    token = (
        None
        if row.token_id is None
        else TokenFacts(revoked_at=row.token_revoked_at, expires_at=row.token_expires_at)
    )
    cluster_type = ClusterType(row.cluster_type)
    problem = cluster_token_problem(cluster_type, token, now)
    status, reason = cluster_status(
        ClusterFacts(deleting=row.deleting_at is not None, token_problem=problem)
    )
    return ComputeCluster.model_construct(
        id=row.id,
        description=row.description,
        cluster_type=cluster_type,
        cloud_provider=row.cloud_provider,
        region=row.region,
        token_id=row.token_id,
        managed_by=ManagedBy(row.managed_by),
        owner=SYSTEM_OWNER if cluster_type == ClusterType.SHARED else caller.user_id,
        status=status,
        status_reason=reason,
        nodepool_count=row.nodepool_count,
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


def _by_id_select(visible: sa.ColumnElement[bool]) -> AnySelect:
    return (
        _select()
        .where(ClusterRow.id == sa.bindparam("cluster_id"), visible)
        # the caller's own cluster wins over the shared one if ever both match
        .order_by(sa.case((ClusterRow.owner_pk == sa.bindparam("owner_pk"), 0), else_=1))
        .limit(1)
    )


@cache
def _by_id() -> PointQuery:
    """The caller's cluster of an id, or the shared one: two seeks of the (owner, id) index."""
    owners = [
        sa.bindparam("owner_pk", type_=sa.Integer),
        sa.bindparam("system_pk", type_=sa.Integer),
    ]
    return PointQuery(_by_id_select(ClusterRow.owner_pk.in_(owners)))


def _found(ctx: Context, caller: Caller, cluster_id: str, row: Any) -> ComputeCluster:
    if row is None:
        raise ClusterNotFound(f"no compute cluster '{cluster_id}'")
    return _view(caller, row, ctx.now())


async def get_cluster(
    ctx: Context, session: AsyncSession, caller: Caller, cluster_id: str
) -> ComputeCluster:
    """One query in ``session`` (which may hold changes not yet committed)."""
    params = {"cluster_id": cluster_id, "owner_pk": caller.user_pk}
    if ctx.system_user_pk is None:  # before bootstrap: the shared cluster by its type
        stmt = _by_id_select(visible_cluster(caller))
    else:
        stmt, params["system_pk"] = _by_id().statement, ctx.system_user_pk
    row = (await session.execute(stmt, params)).first()
    return _found(ctx, caller, cluster_id, row)


async def read_cluster(ctx: Context, caller: Caller, cluster_id: str) -> ComputeCluster:
    """``get_cluster`` of committed data, as a point read (no session: see ``store.point``)."""
    if ctx.system_user_pk is None:
        async with ctx.db.read() as session:
            return await get_cluster(ctx, session, caller, cluster_id)
    row = await ctx.db.read_point(
        _by_id(), cluster_id=cluster_id, owner_pk=caller.user_pk, system_pk=ctx.system_user_pk
    )
    return _found(ctx, caller, cluster_id, row)


async def list_clusters(
    ctx: Context, session: AsyncSession, caller: Caller, params: PageParams
) -> Page[ComputeCluster]:
    """One query: the page's keys (a subquery), then the views of just those rows (one more
    than the page, to know whether another follows)."""
    c = ClusterRow
    system_pk = ctx.system_user_pk
    visible: AnySelect
    if system_pk is None or system_pk == caller.user_pk:
        visible = sa.select(c.pk, c.id).where(visible_cluster(caller, system_pk))
    else:
        # The caller's clusters and the system's, each in id order from the (owner, id)
        # index, merged: no sort of every visible row, however deep the page.
        both = sa.union_all(
            sa.select(c.pk, c.id).where(c.owner_pk == caller.user_pk),
            sa.select(c.pk, c.id).where(c.owner_pk == system_pk),
        ).subquery("visible")
        visible = sa.select(both.c.pk, both.c.id)
    keys = (
        visible.order_by(visible.selected_columns.id, visible.selected_columns.pk)
        .limit(params.per_page + 1)
        .offset(params.offset)
        .subquery("page")
    )
    stmt = _select().join(keys, keys.c.pk == ClusterRow.pk).order_by(keys.c.id, keys.c.pk)
    rows = (await session.execute(stmt)).all()
    next_page = params.page + 1 if len(rows) > params.per_page else None
    now = ctx.now()
    views = [_view(caller, row, now) for row in rows[: params.per_page]]
    return make_page(views, params, next_page)


async def usable_token(
    ctx: Context, session: AsyncSession, caller: Caller, token_id: str | None
) -> TokenRow:
    """The caller's token a cluster may act with: active and allowed to write."""
    if token_id is None:
        if caller.token_id is None:
            raise InvalidArgument(
                "name the token the cluster acts with", fields={"token_id": "required"}
            )
        token_id = caller.token_id
    row = await tokens.get_token_row(session, caller.user_pk, token_id)
    status = token_status(tokens.facts(row), ctx.now())
    if status != TokenStatus.ACTIVE:
        raise TokenNotUsable(
            f"token '{token_id}' is {status.value}; bind an active token",
            fields={"token_id": status.value},
        )
    if not {Scope.WRITE.value, Scope.ADMIN.value} & set(row.scopes):
        raise TokenNotUsable(
            f"token '{token_id}' lacks the 'write' scope a cluster needs to manage compute",
            fields={"token_id": "needs the write scope"},
        )
    return row


def _check_spec(ctx: Context, spec: ComputeClusterSpec) -> None:
    if spec.cluster_type == ClusterType.SHARED:
        raise InvalidArgument(
            "the shared cluster exists already and there is only one; "
            "create a 'dedicated' or 'self_managed' cluster",
            fields={"cluster_type": "use dedicated or self_managed"},
        )
    check_region(ctx.catalog, spec.cloud_provider, spec.region)
    self_managed = spec.cloud_provider in SELF_MANAGED_PROVIDERS
    if self_managed != (spec.cluster_type == ClusterType.SELF_MANAGED):
        raise InvalidArgument(
            "a self_managed cluster uses cloud_provider 'self_managed' (machines join with "
            "`flotilla agent --join`); a dedicated cluster uses a cloud provider",
            fields={"cluster_type": "does not match cloud_provider"},
        )


async def create_cluster(
    ctx: Context, session: AsyncSession, caller: Caller, spec: ComputeClusterSpec
) -> ComputeCluster:
    caller.require(Scope.WRITE)
    _check_spec(ctx, spec)
    if spec.id == SHARED_CLUSTER_ID:
        raise ClusterAlreadyExists(
            f"'{SHARED_CLUSTER_ID}' is the shared cluster; choose another id"
        )
    if spec.token_id in (None, caller.token_id) and caller.token_pk is not None:
        # the caller's own token, checked a moment ago: no need to read it again
        if not {Scope.WRITE, Scope.ADMIN} & caller.scopes:
            raise TokenNotUsable(
                f"token '{caller.token_id}' lacks the 'write' scope a cluster needs to manage compute",
                fields={"token_id": "needs the write scope"},
            )
        token_pk, token_id = caller.token_pk, caller.token_id
    else:
        token = await usable_token(ctx, session, caller, spec.token_id)
        token_pk, token_id = token.pk, token.id
    now = ctx.now()
    row = ClusterRow(
        id=spec.id,
        owner_pk=caller.user_pk,
        description=spec.description,
        cluster_type=spec.cluster_type.value,
        cloud_provider=spec.cloud_provider,
        region=spec.region,
        token_pk=token_pk,
        managed_by=(spec.managed_by or ManagedBy.FLOTILLA).value,
        created_at=now,
        modified_at=now,
    )
    await add_unique(
        session, row, ClusterAlreadyExists(f"you already have a compute cluster '{spec.id}'")
    )
    events.record(
        session,
        owner_pk=caller.user_pk,
        kind=ObjectKind.COMPUTE_CLUSTER,
        object_id=spec.id,
        reason="CLUSTER_CREATED",
        message=f"{spec.cluster_type.value} cluster on {spec.cloud_provider}/{spec.region}, "
        f"acting with token '{token_id}'",
        time=now,
    )
    ctx.hints.notify("clusters")
    created = SimpleNamespace(
        **{c: getattr(row, c) for c in _VIEW_COLUMNS},
        token_id=token_id,
        token_revoked_at=None,
        token_expires_at=None,
        nodepool_count=0,
    )
    return _view(caller, created, now)


def spec_of(row: ClusterRow, token_id: str | None) -> ComputeClusterSpec:
    return ComputeClusterSpec.model_construct(
        id=row.id,
        description=row.description,
        cluster_type=ClusterType(row.cluster_type),
        cloud_provider=row.cloud_provider,
        region=row.region,
        token_id=token_id,
        managed_by=ManagedBy(row.managed_by),
    )


async def update_cluster(
    ctx: Context, session: AsyncSession, caller: Caller, cluster_id: str, patch: dict[str, Any]
) -> ComputeCluster:
    """Change the description, or bind another token (which restores a stopped cluster)."""
    caller.require(Scope.WRITE)
    row = await cluster_row(session, caller, cluster_id)
    if row.cluster_type == ClusterType.SHARED.value:
        caller.require_admin()
        if "token_id" in patch:
            raise InvalidArgument("the shared cluster acts for the system, not with a token")
    refuse_if_deleting(row, f"compute cluster '{cluster_id}'")
    current_token = await session.get(TokenRow, row.token_pk) if row.token_pk else None
    spec = patched(
        ComputeClusterSpec,
        spec_of(row, current_token.id if current_token else None),
        patch,
        IMMUTABLE_FIELDS[ComputeClusterSpec],
    )
    now = ctx.now()
    if "token_id" in patch and row.cluster_type != ClusterType.SHARED.value:
        token = await usable_token(ctx, session, caller, spec.token_id)
        if token.pk != row.token_pk:
            row.token_pk = token.pk
            events.record(
                session,
                owner_pk=row.owner_pk,
                kind=ObjectKind.COMPUTE_CLUSTER,
                object_id=row.id,
                reason="TOKEN_BOUND",
                message=f"the cluster now acts with token '{token.id}'",
                time=now,
            )
            ctx.hints.notify("clusters", "nodepools")
    row.description = spec.description
    row.modified_at = now
    await session.flush()
    return await get_cluster(ctx, session, caller, cluster_id)


async def deployments_on(session: AsyncSession, nodepool_pks: Sequence[int]) -> list[DeploymentRow]:
    """Deployments (not being deleted) that may run on any of these nodepools."""
    if not nodepool_pks:
        return []
    # A subquery, not DISTINCT over the rows: PostgreSQL cannot compare their JSON columns.
    using = sa.select(DeploymentNodepoolRow.deployment_pk).where(
        DeploymentNodepoolRow.nodepool_pk.in_(nodepool_pks)
    )
    result = await session.scalars(
        sa.select(DeploymentRow)
        .where(DeploymentRow.pk.in_(using), DeploymentRow.deleting_at.is_(None))
        .order_by(DeploymentRow.id)
    )
    return list(result.all())


async def delete_cluster(
    ctx: Context, session: AsyncSession, caller: Caller, cluster_id: str, *, cascade: bool = False
) -> DeleteAccepted:
    """Mark the cluster and its nodepools ``deleting``; rows go once nothing runs there.

    Deployments that use its nodepools block the delete (409 ``CLUSTER_HAS_DEPLOYMENTS``) unless
    ``cascade``, which deletes those deployments too.
    """
    from flotilla.services import deployments, nodepools  # they depend on this module

    caller.require(Scope.WRITE)
    row = await cluster_row(session, caller, cluster_id)
    if row.cluster_type == ClusterType.SHARED.value:
        raise PermissionDenied("the shared cluster cannot be deleted")
    pools = list(
        await session.scalars(sa.select(NodepoolRow).where(NodepoolRow.cluster_pk == row.pk))
    )
    users = await deployments_on(session, [p.pk for p in pools])
    if users and not cascade:
        names = ", ".join(d.id for d in users)
        raise ClusterHasDeployments(
            f"compute cluster '{cluster_id}' has deployments: {names}. Delete them first, or "
            "delete with cascade=true to delete them too",
            fields={"deployments": names},
        )
    now = ctx.now()
    for deployment in users:
        await deployments.mark_deleted(ctx, session, deployment)
    if row.deleting_at is None:
        row.deleting_at = now
        events.record(
            session,
            owner_pk=row.owner_pk,
            kind=ObjectKind.COMPUTE_CLUSTER,
            object_id=row.id,
            reason="CLUSTER_DELETING",
            message="deleting: nodepools are drained and their nodes terminated first",
            time=now,
            type=EventType.NORMAL,
        )
    remaining = 0
    for pool in pools:
        if not await nodepools.mark_deleted(ctx, session, row, pool):
            remaining += 1
    ctx.hints.notify("clusters", "nodepools")
    if remaining == 0:
        await session.delete(row)
        return DeleteAccepted(id=cluster_id, status="deleted")
    return DeleteAccepted(id=cluster_id, status="deleting")
