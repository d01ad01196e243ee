"""/v1/compute_clusters/{id}/nodepools and their nodes"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.api.routers.clusters import Cascade, ClusterId
from flotilla.domain.ids import ObjectId
from flotilla.domain.resources import DeleteAccepted, Node, Nodepool, Page
from flotilla.domain.specs import NodepoolPatch, NodepoolSpec
from flotilla.domain.states import NodeState
from flotilla.services import nodepools

router = APIRouter(
    prefix="/v1/compute_clusters/{cluster_id}/nodepools",
    tags=["nodepools"],
    responses=ERROR_RESPONSES,
)
NodepoolId = Annotated[ObjectId, Path(description="The nodepool's id within its cluster.")]


@router.post("", status_code=201, response_model=Nodepool, summary="Create a nodepool")
async def create(ctx: Ctx, caller: Auth, cluster_id: ClusterId, body: NodepoolSpec) -> Response:
    """Instance types must be offered in the cluster's provider and region; `capacity_types`
    `[spot, on_demand]` launches spot first and falls back to on-demand."""
    async with ctx.db.write() as s:
        return json(await nodepools.create_nodepool(ctx, s, caller, cluster_id, body), 201)


@router.get("", response_model=Page[Nodepool], summary="List a cluster's nodepools")
async def list_(ctx: Ctx, caller: Auth, cluster_id: ClusterId, paging: Paging) -> Response:
    async with ctx.db.read() as s:
        return json(await nodepools.list_nodepools(ctx, s, caller, cluster_id, paging))


@router.get("/{nodepool_id}", response_model=Nodepool, summary="Get a nodepool")
async def get(ctx: Ctx, caller: Auth, cluster_id: ClusterId, nodepool_id: NodepoolId) -> Response:
    async with ctx.db.read() as s:
        return json(await nodepools.get_nodepool(ctx, s, caller, cluster_id, nodepool_id))


@router.patch("/{nodepool_id}", response_model=Nodepool, summary="Change a nodepool")
async def update(
    ctx: Ctx,
    caller: Auth,
    cluster_id: ClusterId,
    nodepool_id: NodepoolId,
    body: NodepoolPatch,
) -> Response:
    """JSON merge patch of the nodepool's fields; the result is validated whole (min ≤ max)."""
    async with ctx.db.write() as s:
        patch = body.model_dump(mode="json", exclude_unset=True)
        return json(await nodepools.update_nodepool(ctx, s, caller, cluster_id, nodepool_id, patch))


@router.delete(
    "/{nodepool_id}", status_code=202, response_model=DeleteAccepted, summary="Delete a nodepool"
)
async def delete(
    ctx: Ctx, caller: Auth, cluster_id: ClusterId, nodepool_id: NodepoolId, cascade: Cascade = False
) -> Response:
    """Marks the nodepool `deleting` (202): its replicas are drained and nodes terminated, then
    it goes. Deployments that use it answer 409 `NODEPOOL_IN_USE` unless `cascade=true`."""
    async with ctx.db.write() as s:
        result = await nodepools.delete_nodepool(
            ctx, s, caller, cluster_id, nodepool_id, cascade=cascade
        )
        return json(result, 202)


@router.get("/{nodepool_id}/nodes", response_model=Page[Node], summary="List a nodepool's nodes")
async def list_nodes(
    ctx: Ctx,
    caller: Auth,
    cluster_id: ClusterId,
    nodepool_id: NodepoolId,
    paging: Paging,
    state: Annotated[NodeState | None, Query(description="Only nodes in this state.")] = None,
) -> Response:
    """Newest first, including terminated ones (with the times of every transition)."""
    async with ctx.db.read() as s:
        return json(
            await nodepools.list_nodes(s, caller, cluster_id, nodepool_id, paging, state=state)
        )


@router.get("/{nodepool_id}/nodes/{node_id}", response_model=Node, summary="Get a node")
async def get_node(
    ctx: Ctx,
    caller: Auth,
    cluster_id: ClusterId,
    nodepool_id: NodepoolId,
    node_id: Annotated[ObjectId, Path()],
) -> Response:
    async with ctx.db.read() as s:
        return json(await nodepools.get_node(s, caller, cluster_id, nodepool_id, node_id))
