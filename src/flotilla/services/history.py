"""Forgetting what is over: ended replicas and nodes, old events, and their log files.

Rows of replicas that stopped or failed, and of nodes that were terminated or lost, are kept for
``history_retention_seconds`` (so that a recent crash can still be read), events for
``event_retention_seconds``; then they go, a bounded batch per round, so that a long-running
installation does not grow without end. Usage records are not touched: they carry their own
names and are the cost history.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.states import NODE_GONE_STATES, REPLICA_ENDED_STATES
from flotilla.services import logs
from flotilla.settings import Settings
from flotilla.store.tables import EventRow, NodeRow, ReplicaRow

BATCH = 5_000
"""Rows of a kind removed per round at most: a round stays a short transaction."""


@dataclass(frozen=True)
class Pruned:
    replicas: list[str]
    nodes: int
    events: int


async def prune(session: AsyncSession, settings: Settings, now: datetime) -> Pruned:
    """Remove history older than the retention settings (one batch of each kind)."""
    keep = now - timedelta(seconds=settings.history_retention_seconds)
    replicas = (
        await session.execute(
            sa.select(ReplicaRow.pk, ReplicaRow.id)
            .where(
                ReplicaRow.state.in_([s.value for s in REPLICA_ENDED_STATES]),
                sa.func.coalesce(ReplicaRow.stopped_at, ReplicaRow.modified_at) < keep,
            )
            .limit(BATCH)
        )
    ).all()
    if replicas:
        await session.execute(
            sa.delete(ReplicaRow).where(ReplicaRow.pk.in_([pk for pk, _ in replicas]))
        )
    nodes = (
        await session.scalars(
            sa.select(NodeRow.pk)
            .where(
                NodeRow.state.in_([s.value for s in NODE_GONE_STATES]),
                sa.func.coalesce(NodeRow.terminated_at, NodeRow.modified_at) < keep,
            )
            .limit(BATCH)
        )
    ).all()
    if nodes:
        await session.execute(sa.delete(NodeRow).where(NodeRow.pk.in_(nodes)))
    old_events = (
        await session.scalars(
            sa.select(EventRow.pk)
            .where(EventRow.time < now - timedelta(seconds=settings.event_retention_seconds))
            .limit(BATCH)
        )
    ).all()
    if old_events:
        await session.execute(sa.delete(EventRow).where(EventRow.pk.in_(old_events)))
    return Pruned(replicas=[rid for _, rid in replicas], nodes=len(nodes), events=len(old_events))


def forget_logs(settings: Settings, replica_ids: list[str]) -> None:
    """Delete the log files of replicas whose rows are gone (after the commit)."""
    for replica_id in replica_ids:
        with contextlib.suppress(FileNotFoundError, ValueError):
            logs.log_file(settings, replica_id).unlink()
