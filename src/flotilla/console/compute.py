"""Compute: the overview, clusters and their nodepools (create, show, delete)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from flotilla.catalog import InstanceTypeFilter, filter_instance_types
from flotilla.console.account import confirm_typed
from flotilla.console.summaries import (
    ALL,
    cluster_cost,
    cost_so_far,
    recent_events,
    replicas_by_nodepool,
)
from flotilla.console.templating import FormErrors
from flotilla.console.web import PREFIX, ConsoleRoute, SignedIn, go, number, posted, validate
from flotilla.domain.errors import FlotillaError
from flotilla.domain.resources import ComputeCluster
from flotilla.domain.specs import ComputeClusterSpec, NodepoolSpec
from flotilla.domain.states import ClusterType, ObjectKind, Scope, TokenStatus
from flotilla.services import catalog, clusters, deployments, nodepools, tokens
from flotilla.services.usage import GroupBy

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
SELF_MANAGED = ("self_managed", "default")
CLUSTER_EVENTS = {ObjectKind.COMPUTE_CLUSTER, ObjectKind.NODEPOOL, ObjectKind.NODE}


@router.get("")
async def overview(visitor: SignedIn) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    async with ctx.db.read() as s:
        found = (await clusters.list_clusters(ctx, s, caller, ALL)).items
        pools = {
            c.id: (await nodepools.list_nodepools(ctx, s, caller, c.id, ALL)).items for c in found
        }
        mine = (await deployments.list_deployments(ctx, s, caller, ALL)).items
        replicas = await replicas_by_nodepool(s, caller, mine)
        costs = await cost_so_far(ctx, s, caller, GroupBy.NODEPOOL)
    return visitor.render(
        "overview.html",
        "compute",
        clusters=found,
        pools=pools,
        replicas=replicas,
        costs=costs,
        cluster_costs={c.id: cluster_cost(costs, c.id) for c in found},
    )


@router.get("/clusters")
async def clusters_page() -> Response:
    return go(PREFIX)


@router.get("/clusters/{cluster_id}/nodepools")
async def nodepools_page(cluster_id: str) -> Response:
    return go(f"{PREFIX}/clusters/{cluster_id}")


async def _cluster_form(
    visitor: SignedIn, values: dict[str, Any], errors: FormErrors, status_code: int = 200
) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    async with ctx.db.read() as s:
        mine = (await tokens.list_tokens(ctx, s, caller, ALL)).items
    usable = [
        t
        for t in mine
        if t.status == TokenStatus.ACTIVE and {Scope.WRITE, Scope.ADMIN} & set(t.scopes)
    ]
    providers = [p for p in catalog.list_providers(ctx.catalog) if p.id != SELF_MANAGED[0]]
    return visitor.render(
        "cluster_new.html",
        "compute",
        status_code,
        values=values,
        errors=errors,
        providers=providers,
        enabled=set(ctx.settings.providers),
        tokens=usable,
    )


@router.get("/new/cluster")
async def cluster_new_form(visitor: SignedIn, token_id: str = "") -> Response:
    enabled = visitor.ctx.settings.providers
    provider = visitor.ctx.catalog.provider(enabled[0]) if enabled else None
    values = {
        "cluster_type": ClusterType.DEDICATED.value,
        "cloud_provider": provider.id if provider else "",
        "region": provider.regions[0].id if provider and provider.regions else "",
        "token_id": token_id or visitor.caller.token_id or "",
    }
    return await _cluster_form(visitor, values, FormErrors())


@router.post("/clusters")
async def cluster_create(request: Request, visitor: SignedIn) -> Response:
    form = await posted(request, visitor)
    ctx, caller = visitor.ctx, visitor.caller
    values = {
        name: form.get(name)
        for name in ("id", "description", "cluster_type", "cloud_provider", "region", "token_id")
    }
    data: dict[str, Any] = {**values, "token_id": values["token_id"] or None}
    if values["cluster_type"] == ClusterType.SELF_MANAGED.value:
        data["cloud_provider"], data["region"] = SELF_MANAGED
    try:
        spec = validate(ComputeClusterSpec, data)
        async with ctx.db.write() as s:
            created = await clusters.create_cluster(ctx, s, caller, spec)
    except FlotillaError as error:
        return await _cluster_form(visitor, values, FormErrors(error), error.http_status)
    visitor.session.flash(f"Cluster '{created.id}' created. Now give it a nodepool.", "success")
    return go(f"{PREFIX}/clusters/{created.id}/new/nodepool")


async def _cluster_page(
    visitor: SignedIn, cluster_id: str, errors: FormErrors, status_code: int = 200
) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    async with ctx.db.read() as s:
        cluster = await clusters.get_cluster(ctx, s, caller, cluster_id)
        pools = (await nodepools.list_nodepools(ctx, s, caller, cluster_id, ALL)).items
        users = (
            await deployments.list_deployments(ctx, s, caller, ALL, compute_cluster=cluster_id)
        ).items
        replicas = await replicas_by_nodepool(s, caller, users)
        costs = await cost_so_far(ctx, s, caller, GroupBy.NODEPOOL)
        history = await recent_events(s, caller, cluster_id, CLUSTER_EVENTS)
    return visitor.render(
        "cluster.html",
        "compute",
        status_code,
        cluster=cluster,
        pools=pools,
        deployments=users,
        replicas=replicas,
        costs=costs,
        cost=cluster_cost(costs, cluster_id),
        events=history,
        errors=errors,
    )


@router.get("/clusters/{cluster_id}")
async def cluster_page(visitor: SignedIn, cluster_id: str) -> Response:
    return await _cluster_page(visitor, cluster_id, FormErrors())


@router.post("/clusters/{cluster_id}/delete")
async def cluster_delete(request: Request, visitor: SignedIn, cluster_id: str) -> Response:
    form = await posted(request, visitor)
    ctx = visitor.ctx
    try:
        confirm_typed(form.get("confirm"), cluster_id)
        async with ctx.db.write() as s:
            done = await clusters.delete_cluster(
                ctx, s, visitor.caller, cluster_id, cascade=form.get("cascade") == "on"
            )
    except FlotillaError as error:
        return await _cluster_page(visitor, cluster_id, FormErrors(error), error.http_status)
    visitor.session.flash(f"Cluster '{cluster_id}': {done.status}.", "success")
    return go(PREFIX)


async def _nodepool_form(
    visitor: SignedIn,
    cluster_id: str,
    values: dict[str, Any],
    errors: FormErrors,
    status_code: int = 200,
) -> Response:
    ctx = visitor.ctx
    async with ctx.db.read() as s:
        cluster = await clusters.get_cluster(ctx, s, visitor.caller, cluster_id)
    types = _offered(ctx.catalog, cluster)
    return visitor.render(
        "nodepool_new.html",
        "compute",
        status_code,
        cluster=cluster,
        instance_types=types,
        accelerator_types=sorted(
            {t.compute_info.accelerator_type for t in types if t.compute_info.accelerator_type}
        ),
        values=values,
        errors=errors,
    )


def _offered(catalog_: Any, cluster: ComputeCluster) -> list[Any]:
    flt = InstanceTypeFilter(cloud_provider=cluster.cloud_provider, region=cluster.region)
    return filter_instance_types(catalog_.instance_types, flt)


@router.get("/clusters/{cluster_id}/new/nodepool")
async def nodepool_new_form(visitor: SignedIn, cluster_id: str) -> Response:
    values = {"min_instances": "0", "max_instances": "1", "instance_types": [], "spot": False}
    return await _nodepool_form(visitor, cluster_id, values, FormErrors())


@router.post("/clusters/{cluster_id}/nodepools")
async def nodepool_create(request: Request, visitor: SignedIn, cluster_id: str) -> Response:
    form = await posted(request, visitor)
    ctx = visitor.ctx
    values: dict[str, Any] = {
        "id": form.get("id"),
        "description": form.get("description"),
        "min_instances": form.get("min_instances"),
        "max_instances": form.get("max_instances"),
        "instance_types": form.getall("instance_types"),
        "spot": form.get("spot") == "on",
    }
    data = {
        "id": values["id"],
        "description": values["description"],
        "min_instances": number(values["min_instances"]),
        "max_instances": number(values["max_instances"]),
        "instance_types": values["instance_types"],
        "capacity_types": ["spot", "on_demand"] if values["spot"] else ["on_demand"],
    }
    try:
        spec = validate(NodepoolSpec, data)
        async with ctx.db.write() as s:
            created = await nodepools.create_nodepool(ctx, s, visitor.caller, cluster_id, spec)
    except FlotillaError as error:
        fields = FormErrors(error, capacity_types="spot")
        return await _nodepool_form(visitor, cluster_id, values, fields, error.http_status)
    visitor.session.flash(f"Nodepool '{created.id}' created.", "success")
    return go(f"{PREFIX}/clusters/{cluster_id}")


async def _nodepool_page(
    visitor: SignedIn,
    cluster_id: str,
    nodepool_id: str,
    errors: FormErrors,
    status_code: int = 200,
) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    path = f"{cluster_id}/{nodepool_id}"
    async with ctx.db.read() as s:
        cluster = await clusters.get_cluster(ctx, s, caller, cluster_id)
        pool = await nodepools.get_nodepool(ctx, s, caller, cluster_id, nodepool_id)
        nodes = (await nodepools.list_nodes(s, caller, cluster_id, nodepool_id, ALL)).items
        users = (
            await deployments.list_deployments(
                ctx, s, caller, ALL, compute_cluster=cluster_id, nodepool=nodepool_id
            )
        ).items
        replicas = await replicas_by_nodepool(s, caller, users)
        costs = await cost_so_far(ctx, s, caller, GroupBy.NODEPOOL)
        history = await recent_events(s, caller, path, CLUSTER_EVENTS)
    shapes = [
        ctx.catalog.instance_type(cluster.cloud_provider, cluster.region, type_id)
        for type_id in pool.instance_types
    ]
    return visitor.render(
        "nodepool.html",
        "compute",
        status_code,
        cluster=cluster,
        pool=pool,
        shapes=[shape for shape in shapes if shape is not None],
        nodes=nodes,
        deployments=users,
        replicas=replicas.get(path, 0),
        cost=costs.get(path, 0.0),
        events=history,
        errors=errors,
    )


@router.get("/clusters/{cluster_id}/nodepools/{nodepool_id}")
async def nodepool_page(visitor: SignedIn, cluster_id: str, nodepool_id: str) -> Response:
    return await _nodepool_page(visitor, cluster_id, nodepool_id, FormErrors())


@router.post("/clusters/{cluster_id}/nodepools/{nodepool_id}/delete")
async def nodepool_delete(
    request: Request, visitor: SignedIn, cluster_id: str, nodepool_id: str
) -> Response:
    form = await posted(request, visitor)
    ctx = visitor.ctx
    try:
        confirm_typed(form.get("confirm"), nodepool_id)
        async with ctx.db.write() as s:
            done = await nodepools.delete_nodepool(
                ctx,
                s,
                visitor.caller,
                cluster_id,
                nodepool_id,
                cascade=form.get("cascade") == "on",
            )
    except FlotillaError as error:
        return await _nodepool_page(
            visitor, cluster_id, nodepool_id, FormErrors(error), error.http_status
        )
    visitor.session.flash(f"Nodepool '{nodepool_id}': {done.status}.", "success")
    return go(f"{PREFIX}/clusters/{cluster_id}")
