"""Events: the append-only record of what happened to an object, and why."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.resources import Event, Page
from flotilla.domain.states import EventType, ObjectKind
from flotilla.services.context import Caller
from flotilla.services.paging import PageParams, fetch_page, page_of
from flotilla.store.tables import EventRow, UserRow


def record(
    session: AsyncSession,
    *,
    owner_pk: int,
    kind: ObjectKind,
    object_id: str,
    reason: str,
    message: str,
    time: datetime,
    type: EventType = EventType.NORMAL,
) -> None:
    """Add an event to the session's transaction (it commits with the change it explains)."""
    session.add(
        EventRow(
            time=time,
            owner_pk=owner_pk,
            object_kind=kind.value,
            object_id=object_id,
            type=type.value,
            reason=reason,
            message=message,
        )
    )


def _view(row: EventRow) -> Event:
    return Event(
        id=row.pk,
        time=row.time,
        object_kind=row.object_kind,
        object_id=row.object_id,
        type=EventType(row.type),
        reason=row.reason,
        message=row.message,
    )


async def list_events(
    session: AsyncSession,
    caller: Caller,
    params: PageParams,
    *,
    object_kind: ObjectKind | None = None,
    object_id: str | None = None,
    reason: str | None = None,
    type: EventType | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int | None = None,
) -> Page[Event]:
    """The caller's events and the system's (the shared cluster's), newest first — or, with
    ``after_id``, oldest first from that event on, for following."""
    system_pks = sa.select(UserRow.pk).where(UserRow.is_system.is_(True)).scalar_subquery()
    stmt = sa.select(EventRow).where(
        sa.or_(EventRow.owner_pk == caller.user_pk, EventRow.owner_pk == system_pks)
    )
    if object_kind is not None:
        stmt = stmt.where(EventRow.object_kind == object_kind.value)
    if object_id is not None:
        # "gpu-east" also matches the nodepools and nodes below it ("gpu-east/a10-pool"). Not
        # LIKE: SQLite's ignores case, and ids are case-sensitive.
        below = object_id + "/"
        stmt = stmt.where(
            sa.or_(
                EventRow.object_id == object_id,
                sa.func.substr(EventRow.object_id, 1, len(below)) == below,
            )
        )
    if reason is not None:
        stmt = stmt.where(EventRow.reason == reason)
    if type is not None:
        stmt = stmt.where(EventRow.type == type.value)
    if since is not None:
        stmt = stmt.where(EventRow.time >= since)
    if until is not None:
        stmt = stmt.where(EventRow.time < until)
    if after_id is not None:
        stmt = stmt.where(EventRow.pk > after_id).order_by(EventRow.pk.asc())
    else:
        stmt = stmt.order_by(EventRow.pk.desc())
    rows, next_page = await fetch_page(session, stmt, params)
    return page_of(rows, params, next_page, lambda row: _view(row[0]))
