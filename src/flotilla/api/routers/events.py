"""/v1/events"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.resources import Event, Page
from flotilla.domain.states import EventType, ObjectKind
from flotilla.services import events

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[Event], summary="List events")
async def list_(
    ctx: Ctx,
    caller: Auth,
    paging: Paging,
    object_kind: Annotated[ObjectKind | None, Query()] = None,
    object_id: Annotated[
        str | None,
        Query(max_length=200, description="e.g. 'gpu-east' (also matches 'gpu-east/a10-pool')"),
    ] = None,
    reason: Annotated[str | None, Query(max_length=64, description="e.g. TOKEN_REVOKED")] = None,
    type: Annotated[EventType | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; exclusive")] = None,
    after_id: Annotated[
        int | None, Query(ge=0, description="Only events after this id, oldest first (to follow).")
    ] = None,
) -> Response:
    """What happened to your objects and why, newest first."""
    async with ctx.db.read() as s:
        page = await events.list_events(
            s,
            caller,
            paging,
            object_kind=object_kind,
            object_id=object_id,
            reason=reason,
            type=type,
            since=_utc(since),
            until=_utc(until),
            after_id=after_id,
        )
        return json(page)


def _utc(value: datetime | None) -> datetime | None:
    from flotilla.domain.time import as_utc

    return None if value is None else as_utc(value)
