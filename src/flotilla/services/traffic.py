"""Traffic signals from gateways: what each saw of each deployment, per interval.

A gateway reports, every interval, each deployment it has served recently — zeros included — so
a window of samples covers time exactly; the autoscaler averages over the covered part. Times
are seconds since the Unix epoch, so windows are summed in SQL on both databases.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from flotilla.store.tables import DeploymentRow, TrafficSampleRow

RETENTION_SECONDS = 86_400 + 600
"""Longest traffic_history_seconds plus a margin: older samples are pruned."""


@dataclass(frozen=True)
class Sample:
    deployment_pk: int
    start_s: float
    end_s: float
    in_flight: float
    """Average requests in flight over the interval, held ones included."""
    arrivals: int
    held: int
    """Requests waiting for a replica at the end of the interval."""
    last_request_at: datetime | None = None
    latency_ms_p50: float | None = None
    latency_ms_p99: float | None = None
    errors: int = 0


async def record(session: AsyncSession, gateway: str, samples: list[Sample]) -> None:
    if not samples:
        return
    await session.execute(
        sa.insert(TrafficSampleRow),
        [
            {
                "deployment_pk": s.deployment_pk,
                "gateway": gateway,
                "start_s": s.start_s,
                "end_s": s.end_s,
                "in_flight": s.in_flight,
                "arrivals": s.arrivals,
                "held": s.held,
                "last_request_at": s.last_request_at,
                "latency_ms_p50": s.latency_ms_p50,
                "latency_ms_p99": s.latency_ms_p99,
                "errors": s.errors,
            }
            for s in samples
        ],
    )
    latest: dict[int, datetime] = {}
    for s in samples:
        if s.last_request_at is not None and (
            s.deployment_pk not in latest or s.last_request_at > latest[s.deployment_pk]
        ):
            latest[s.deployment_pk] = s.last_request_at
    for deployment_pk, at in latest.items():
        await session.execute(
            sa.update(DeploymentRow)
            .where(
                DeploymentRow.pk == deployment_pk,
                sa.or_(DeploymentRow.last_request_at.is_(None), DeploymentRow.last_request_at < at),
            )
            .values(last_request_at=at)
        )


async def prune(session: AsyncSession, now: datetime) -> None:
    """Drop samples older than any window can look back (windows are at most a day)."""
    await session.execute(
        sa.delete(TrafficSampleRow).where(
            TrafficSampleRow.end_s < now.timestamp() - RETENTION_SECONDS
        )
    )


@dataclass
class Window:
    """Average in-flight requests per deployment over one window, and how much of it was covered."""

    average: float
    covered_seconds: float


def _clip(column: Any, bound: float, upper: bool) -> Any:
    """min(column, bound) (``upper``) or max(column, bound), portable across databases."""
    return sa.case((column < bound, column if upper else bound), else_=bound if upper else column)


def window_end(session: Session, now: datetime, max_lag: float) -> float | None:
    """Where windows end: at the newest report, since the last moments are yet to be reported —
    but never more than ``max_lag`` before now, so that when reports stop, silence counts."""
    newest = session.scalar(sa.select(sa.func.max(TrafficSampleRow.end_s)))
    if newest is None:
        return None
    return min(max(float(newest), now.timestamp() - max_lag), now.timestamp())


def windows(
    session: Session, deployment_pks: list[int], end: float, seconds: float
) -> dict[int, Window]:
    """Time-weighted in-flight averages over [end - seconds, end) for these deployments."""
    if not deployment_pks:
        return {}
    t = TrafficSampleRow
    lo = end - seconds
    start = _clip(t.start_s, lo, upper=False)
    stop = _clip(t.end_s, end, upper=True)
    result = session.execute(
        sa.select(t.deployment_pk, sa.func.sum(t.in_flight * (stop - start)), sa.func.min(start))
        .where(t.end_s > lo, t.start_s < end, t.deployment_pk.in_(deployment_pks))
        .group_by(t.deployment_pk)
    )
    found = {}
    for pk, integral, first in result.all():
        covered = max(end - float(first), 1e-9)
        found[pk] = Window(average=float(integral or 0.0) / covered, covered_seconds=covered)
    return found


def held_now(
    session: Session, deployment_pks: list[int], end: float, interval: float
) -> dict[int, int]:
    """Requests held at the newest report of each gateway (reports within ``interval`` of the end)."""
    if not deployment_pks:
        return {}
    t = TrafficSampleRow
    result = session.execute(
        sa.select(t.deployment_pk, t.gateway, t.held)
        .where(t.end_s > end - interval, t.deployment_pk.in_(deployment_pks))
        .order_by(t.end_s)
    )
    newest: dict[tuple[int, str], int] = {}
    for pk, gateway, held in result.all():
        newest[(pk, gateway)] = held
    totals: dict[int, int] = defaultdict(int)
    for (pk, _), held in newest.items():
        totals[pk] += held
    return dict(totals)
