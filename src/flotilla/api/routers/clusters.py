"""/v1/compute_clusters"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.ids import ObjectId
from flotilla.domain.resources import ComputeCluster, DeleteAccepted, Page
from flotilla.domain.specs import ComputeClusterPatch, ComputeClusterSpec
from flotilla.services import clusters

router = APIRouter(
    prefix="/v1/compute_clusters", tags=["compute clusters"], responses=ERROR_RESPONSES
)
ClusterId = Annotated[ObjectId, Path(description="The compute cluster's id.")]
Cascade = Annotated[
    bool,
    Query(description="Also delete the deployments that use it (otherwise 409 while any exist)."),
]


@router.post("", status_code=201, response_model=ComputeCluster, summary="Create a compute cluster")
async def create(ctx: Ctx, caller: Auth, body: ComputeClusterSpec) -> Response:
    """Create a cluster on a provider and region. It acts with `token_id` (the caller's token by
    default); if that token is revoked, deleted or expires, the cluster's compute stops."""
    async with ctx.db.write() as s:
        return json(await clusters.create_cluster(ctx, s, caller, body), 201)


@router.get("", response_model=Page[ComputeCluster], summary="List compute clusters")
async def list_(ctx: Ctx, caller: Auth, paging: Paging) -> Response:
    """Your clusters and the shared one, by id."""
    async with ctx.db.read() as s:
        return json(await clusters.list_clusters(ctx, s, caller, paging))


@router.get("/{cluster_id}", response_model=ComputeCluster, summary="Get a compute cluster")
async def get(ctx: Ctx, caller: Auth, cluster_id: ClusterId) -> Response:
    return json(await clusters.read_cluster(ctx, caller, cluster_id))


@router.patch("/{cluster_id}", response_model=ComputeCluster, summary="Change a compute cluster")
async def update(
    ctx: Ctx, caller: Auth, cluster_id: ClusterId, body: ComputeClusterPatch
) -> Response:
    """JSON merge patch: `description`, or `token_id` to bind another token (which restores a
    cluster stopped by a revoked token). Provider, region and type cannot change."""
    async with ctx.db.write() as s:
        patch = body.model_dump(mode="json", exclude_unset=True)
        return json(await clusters.update_cluster(ctx, s, caller, cluster_id, patch))


@router.delete(
    "/{cluster_id}",
    status_code=202,
    response_model=DeleteAccepted,
    summary="Delete a compute cluster",
)
async def delete(
    ctx: Ctx, caller: Auth, cluster_id: ClusterId, cascade: Cascade = False
) -> Response:
    """Marks the cluster and its nodepools `deleting` (202); they go once nothing runs there.
    Deleting again while it is being deleted is not an error."""
    async with ctx.db.write() as s:
        return json(await clusters.delete_cluster(ctx, s, caller, cluster_id, cascade=cascade), 202)
