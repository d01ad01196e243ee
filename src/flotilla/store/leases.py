"""Leases: who may act on what, for how long.

A lease is (owner, token, expiry). Work is claimed by writing a fresh token where no live lease
is held, and results are written only where that token still stands — so two server replicas
never act on the same row at once, and a crashed one's claims lapse by themselves. On
PostgreSQL, candidate rows are locked with ``FOR UPDATE SKIP LOCKED`` while claiming.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from flotilla.store.prepared import Prepared, execute
from flotilla.store.tables import ControllerLeaseRow


def new_token() -> str:
    return secrets.token_hex(16)


_LEASES = cast(sa.Table, ControllerLeaseRow.__table__)
_L = _LEASES.c
_AT = _L.expires_at.type
_CLAIM = (
    sa.update(_LEASES)
    .where(
        _L.name == sa.bindparam("b_name"),
        sa.or_(
            _L.owner == sa.bindparam("b_owner"), _L.expires_at <= sa.bindparam("now", type_=_AT)
        ),
    )
    .values(
        owner=sa.bindparam("b_owner"),
        token=sa.bindparam("b_token"),
        expires_at=sa.bindparam("b_expires", type_=_AT),
    )
)
_HOLDS = Prepared(
    sa.update(_LEASES)
    .where(
        _L.name == sa.bindparam("b_name"),
        _L.token == sa.bindparam("b_token"),
        _L.expires_at > sa.bindparam("now", type_=_AT),
    )
    .values(expires_at=sa.bindparam("b_expires", type_=_AT))
)
"""Prebuilt: the leader claims its lease every few seconds and checks it in every write."""


async def claim_named(
    session: AsyncSession, name: str, owner: str, ttl_seconds: float, now: datetime
) -> str | None:
    """Take or renew the lease ``name`` (e.g. the reconcile leader); its token, or None."""
    token = new_token()
    expires = now + timedelta(seconds=ttl_seconds)
    result = await session.execute(
        _CLAIM,
        {"b_name": name, "b_owner": owner, "now": now, "b_token": token, "b_expires": expires},
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return token
    exists = await session.scalar(
        sa.select(ControllerLeaseRow.name).where(ControllerLeaseRow.name == name)
    )
    if exists is not None:
        return None
    try:
        async with session.begin_nested():
            session.add(ControllerLeaseRow(name=name, owner=owner, token=token, expires_at=expires))
    except IntegrityError:
        return None
    return token


async def release_named(session: AsyncSession, name: str, token: str, now: datetime) -> None:
    await session.execute(
        sa.update(ControllerLeaseRow)
        .where(ControllerLeaseRow.name == name, ControllerLeaseRow.token == token)
        .values(expires_at=now)
    )


async def claim_rows(
    session: AsyncSession,
    table: Any,
    where: sa.ColumnElement[bool],
    owner: str,
    ttl_seconds: float,
    now: datetime,
    *,
    limit: int = 100,
    postgres: bool = False,
) -> tuple[str, list[int]]:
    """Lease up to ``limit`` rows of ``table`` matching ``where`` that no one holds; returns
    the token and the claimed primary keys."""
    free = sa.or_(table.lock_expires_at.is_(None), table.lock_expires_at <= now)
    pick = sa.select(table.pk).where(where, free).order_by(table.pk).limit(limit)
    if postgres:
        pick = pick.with_for_update(skip_locked=True)
    pks = list((await session.scalars(pick)).all())
    if not pks:
        return "", []
    token = new_token()
    await session.execute(
        sa.update(table)
        .where(table.pk.in_(pks), free)
        .values(
            lock_owner=owner, lock_token=token, lock_expires_at=now + timedelta(seconds=ttl_seconds)
        )
    )
    claimed = await session.scalars(
        sa.select(table.pk).where(table.pk.in_(pks), table.lock_token == token)
    )
    return token, list(claimed.all())


def holds_named(session: Session, name: str, token: str, now: datetime, ttl_seconds: float) -> bool:
    """Extend the lease if ``token`` still holds it; False means someone else leads now."""
    touched = execute(
        session,
        _HOLDS,
        {
            "b_name": name,
            "b_token": token,
            "now": now,
            "b_expires": now + timedelta(seconds=ttl_seconds),
        },
    )
    return touched == 1
