"""/v1/deployments/{id}/logs: what a deployment's replicas wrote, read at once or followed.

Lines come from ``services.logs`` (agents ship them there). Following streams NDJSON, one line
object per line, polling the stored logs; a blank line is sent now and then so that a follower
that went away is noticed. A stream ends after ``FOLLOW_SECONDS``, when the deployment is gone,
or when no replica of it is running and nothing new was written (so that no answer stays open
for nothing); clients reconnect with ``since`` set to the last line's time, as the SDK does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response, StreamingResponse

from flotilla.api.deps import Auth, Ctx, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.api.routers.deployments import DeploymentId
from flotilla.domain.errors import DeploymentNotFound
from flotilla.domain.resources import Replica
from flotilla.domain.states import REPLICA_ENDED_STATES
from flotilla.services import deployments, logs
from flotilla.services.context import Caller, Context
from flotilla.services.paging import MAX_PER_PAGE, PageParams

router = APIRouter(prefix="/v1/deployments", tags=["deployments"], responses=ERROR_RESPONSES)
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 10.0
FOLLOW_SECONDS = 60.0
MAX_REPLICA_PAGES = 10
NDJSON = "application/x-ndjson"


class LogLine(BaseModel):
    time: datetime
    replica: str
    stream: str = Field(description="stdout or stderr.")
    text: str


class LogLines(BaseModel):
    lines: list[LogLine]


def _micros(seconds: float) -> int:
    """Times compare at the microsecond the API shows them with."""
    return round(seconds * 1_000_000)


def _view(line: logs.LogLine) -> LogLine:
    return LogLine(
        time=datetime.fromtimestamp(line.time, UTC),
        replica=line.replica_id,
        stream=line.stream,
        text=line.text,
    )


async def _replicas(ctx: Context, caller: Caller, deployment_id: str) -> list[Replica]:
    """Every replica the deployment has had (raises ``DeploymentNotFound`` once it is gone)."""
    found: list[Replica] = []
    async with ctx.db.read() as s:
        for number in range(1, MAX_REPLICA_PAGES + 1):
            page = await deployments.list_replicas(
                s, caller, deployment_id, PageParams(page=number, per_page=MAX_PER_PAGE)
            )
            found.extend(page.items)
            if page.next_page is None:
                break
    return found


def _running(replicas: list[Replica]) -> bool:
    return any(r.state not in REPLICA_ENDED_STATES for r in replicas)


async def _read(
    ctx: Context, replica_ids: list[str], after: dict[str, int], since: int, limit: int
) -> list[logs.LogLine]:
    """Lines newer than ``since`` and than what was sent of each replica (``after``): the newest
    ``limit`` of them. Tracking each replica keeps a line that reached the store late."""
    start = min([since, *after.values()]) / 1_000_000 - 1e-6
    lines = await asyncio.to_thread(
        logs.read, ctx.settings, replica_ids, since=start, limit=1 << 30
    )
    fresh = [
        line for line in lines if _micros(line.time) > max(since, after.get(line.replica_id, since))
    ]
    return fresh[-limit:]


@router.get(
    "/{deployment_id}/logs",
    response_model=LogLines,
    summary="Read or follow a deployment's logs",
    responses={200: {"content": {NDJSON: {"schema": LogLine.model_json_schema()}}}},
)
async def get_logs(
    ctx: Ctx,
    caller: Auth,
    deployment_id: DeploymentId,
    since: Annotated[
        AwareDatetime | None, Query(description="Only lines after this time (ISO 8601).")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="At most this many lines: the newest.")
    ] = 1000,
    follow: Annotated[
        bool, Query(description="Keep the answer open and stream new lines as NDJSON.")
    ] = False,
) -> Response:
    """Lines of every replica the deployment has had, oldest first, as `{"lines": [...]}`.
    With `follow=true` the answer is `application/x-ndjson`: the newest `limit` lines, then new
    ones as they arrive, one JSON object per line (blank lines are keep-alives). The stream ends
    after a minute, when the deployment is gone, or when none of its replicas runs and nothing
    new was written; reconnect with `since` to go on."""
    replicas = await _replicas(ctx, caller, deployment_id)
    start = _micros(since.timestamp()) if since else 0
    if not follow:
        lines = await _read(ctx, [r.id for r in replicas], {}, start, limit)
        return json(LogLines(lines=[_view(line) for line in lines]))
    return StreamingResponse(
        _follow(ctx, caller, deployment_id, replicas, start, limit), media_type=NDJSON
    )


async def _follow(
    ctx: Context,
    caller: Caller,
    deployment_id: str,
    replicas: list[Replica],
    since: int,
    limit: int,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    started = last_sent = loop.time()
    after: dict[str, int] = {}
    while loop.time() - started < FOLLOW_SECONDS:
        lines = await _read(ctx, [r.id for r in replicas], after, since, limit)
        if lines and not after:  # the first batch: what it left out stays out
            since = max(since, _micros(lines[0].time) - 1)
        if lines:
            chunk = "".join(_view(line).model_dump_json() + "\n" for line in lines)
            for line in lines:
                after[line.replica_id] = max(after.get(line.replica_id, 0), _micros(line.time))
            yield chunk.encode()
            last_sent = loop.time()
        elif not _running(replicas):
            return  # nothing can be written until a replica starts: the client comes back
        elif loop.time() - last_sent >= KEEPALIVE_SECONDS:
            yield b"\n"
            last_sent = loop.time()
        await asyncio.sleep(POLL_SECONDS)
        try:
            replicas = await _replicas(ctx, caller, deployment_id)
        except DeploymentNotFound:
            return


__all__ = ["LogLine", "LogLines", "router"]
