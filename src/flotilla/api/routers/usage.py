"""/v1/usage"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.time import as_utc
from flotilla.services import usage
from flotilla.services.usage import GroupBy, Usage

router = APIRouter(prefix="/v1", tags=["usage"], responses=ERROR_RESPONSES)


@router.get("/usage", response_model=Usage, summary="Compute usage and cost")
async def get_usage(
    ctx: Ctx,
    caller: Auth,
    group_by: Annotated[
        GroupBy, Query(description="How to group node-hours and cost.")
    ] = GroupBy.COMPUTE_CLUSTER,
    since: Annotated[datetime | None, Query(description="ISO 8601; default: 7 days ago")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; default: now")] = None,
) -> Response:
    """Node-seconds priced by capacity type (spot or on-demand), over a time range, grouped by
    cluster, nodepool, deployment (each replica's share of its node; the rest is `(idle)`),
    instance type or capacity type."""
    now = ctx.now()
    end = as_utc(until) if until else now
    start = as_utc(since) if since else end - timedelta(days=7)
    async with ctx.db.read() as s:
        return json(await usage.usage(ctx, s, caller, group_by, start, end))
