"""Acting on one node: a spot interruption notice for local nodes (demos and tests)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.api.routers.clusters import ClusterId
from flotilla.api.routers.nodepools import NodepoolId
from flotilla.domain.errors import InvalidArgument
from flotilla.domain.ids import ObjectId
from flotilla.domain.resources import Node
from flotilla.services import nodepools

router = APIRouter(
    prefix="/v1/compute_clusters/{cluster_id}/nodepools/{nodepool_id}/nodes",
    tags=["nodepools"],
    responses=ERROR_RESPONSES,
)


@router.post(
    "/{node_id}/interrupt",
    response_model=Node,
    summary="Send a spot interruption notice (local nodes)",
)
async def interrupt(
    ctx: Ctx,
    caller: Auth,
    request: Request,
    cluster_id: ClusterId,
    nodepool_id: NodepoolId,
    node_id: Annotated[ObjectId, Path()],
    notice_seconds: Annotated[
        float, Query(gt=0, le=3600, description="Seconds until it is reclaimed.")
    ] = 30,
) -> Response:
    """Tell a local node it will be reclaimed, as a cloud does with spot capacity: Flotilla cordons
    it, starts replacements at once, and moves its replicas once their new copies are ready."""
    caller.require_admin()
    async with ctx.db.read() as s:
        node = await nodepools.get_node(s, caller, cluster_id, nodepool_id, node_id)
    providers = getattr(request.app.state, "providers", None)
    local = providers.registry.get("local") if providers is not None else None
    if (
        local is None
        or node.provider_instance_id is None
        or not node.provider_instance_id.startswith("local-")
    ):
        raise InvalidArgument("only nodes of the local provider take interruption notices this way")
    local.interrupt(node.provider_instance_id, notice_seconds)
    ctx.hints.notify("nodepools")
    return json(node)
