"""/v1/deployments"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.ids import ObjectId
from flotilla.domain.resources import DeleteAccepted, Deployment, Page, Replica
from flotilla.domain.specs import DeploymentPatch, DeploymentSpec
from flotilla.services import deployments

router = APIRouter(prefix="/v1/deployments", tags=["deployments"], responses=ERROR_RESPONSES)
DeploymentId = Annotated[ObjectId, Path(description="The deployment's id.")]


@router.post("", status_code=201, response_model=Deployment, summary="Create a deployment")
async def create(ctx: Ctx, caller: Auth, body: DeploymentSpec) -> Response:
    """Serve a model version on nodepools (the shared cluster's default when none is named).
    Every nodepool must be able to hold a replica of the model."""
    async with ctx.db.write() as s:
        return json(await deployments.create_deployment(ctx, s, caller, body), 201)


@router.get("", response_model=Page[Deployment], summary="List deployments")
async def list_(
    ctx: Ctx,
    caller: Auth,
    paging: Paging,
    compute_cluster: Annotated[
        ObjectId | None, Query(description="Only those using this cluster.")
    ] = None,
    nodepool: Annotated[
        ObjectId | None, Query(description="Only those using a nodepool of this id.")
    ] = None,
    model: Annotated[ObjectId | None, Query(description="Only those serving this model.")] = None,
) -> Response:
    async with ctx.db.read() as s:
        page = await deployments.list_deployments(
            ctx, s, caller, paging, compute_cluster=compute_cluster, nodepool=nodepool, model=model
        )
        return json(page)


@router.get("/{deployment_id}", response_model=Deployment, summary="Get a deployment")
async def get(ctx: Ctx, caller: Auth, deployment_id: DeploymentId) -> Response:
    async with ctx.db.read() as s:
        return json(await deployments.get_deployment(ctx, s, caller, deployment_id))


@router.patch("/{deployment_id}", response_model=Deployment, summary="Change a deployment")
async def update(
    ctx: Ctx, caller: Auth, deployment_id: DeploymentId, body: DeploymentPatch
) -> Response:
    """JSON merge patch: `autoscale_config` merges key by key, `nodepools` is replaced whole,
    `null` resets a field to its default. The result is validated as a whole."""
    async with ctx.db.write() as s:
        patch = body.model_dump(mode="json", exclude_unset=True)
        return json(await deployments.update_deployment(ctx, s, caller, deployment_id, patch))


@router.delete(
    "/{deployment_id}",
    status_code=202,
    response_model=DeleteAccepted,
    summary="Delete a deployment",
)
async def delete(ctx: Ctx, caller: Auth, deployment_id: DeploymentId) -> Response:
    """Marks it `deleting` (202): replicas finish in-flight requests, then stop, then it goes."""
    async with ctx.db.write() as s:
        return json(await deployments.delete_deployment(ctx, s, caller, deployment_id), 202)


@router.get(
    "/{deployment_id}/replicas",
    response_model=Page[Replica],
    summary="List a deployment's replicas",
)
async def replicas(ctx: Ctx, caller: Auth, deployment_id: DeploymentId, paging: Paging) -> Response:
    async with ctx.db.read() as s:
        return json(await deployments.list_replicas(s, caller, deployment_id, paging))
