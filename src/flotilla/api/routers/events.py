"""/v1/events"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.resources import Event, Page
from flotilla.domain.states import EventType, ObjectKind
from flotilla.services import events

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES)
_ISO_8601 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]")
OBJECT_PATH = r"^[A-Za-z0-9][A-Za-z0-9_-]*(/[A-Za-z0-9][A-Za-z0-9_-]*)*$"
MAX_EVENT_ID = 2**31 - 1  # event ids are 32-bit integers in the store


def _iso_8601(value: object) -> object:
    """Only ISO 8601 times: a bare number would otherwise be read as a Unix timestamp."""
    if isinstance(value, str) and not _ISO_8601.match(value):
        raise ValueError("use an ISO 8601 time with its zone, e.g. 2026-01-01T00:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    """In UTC; a time whose UTC falls outside years 1–9999 is as far as UTC goes."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


Time = Annotated[AwareDatetime, BeforeValidator(_iso_8601), AfterValidator(_utc)]


@router.get("", response_model=Page[Event], summary="List events")
async def list_(
    ctx: Ctx,
    caller: Auth,
    paging: Paging,
    object_kind: Annotated[ObjectKind | None, Query()] = None,
    object_id: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=OBJECT_PATH,
            description="e.g. 'gpu-east' (also matches 'gpu-east/a10-pool')",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        Query(max_length=64, pattern=r"^[A-Za-z0-9_]+$", description="e.g. TOKEN_REVOKED"),
    ] = None,
    type: Annotated[EventType | None, Query()] = None,
    since: Annotated[Time | None, Query(description="ISO 8601 with zone; inclusive")] = None,
    until: Annotated[Time | None, Query(description="ISO 8601 with zone; exclusive")] = None,
    after_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_EVENT_ID,
            description="Only events after this id, oldest first (to follow).",
        ),
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
            since=since,
            until=until,
            after_id=after_id,
        )
        return json(page)
