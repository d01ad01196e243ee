"""Traffic signals from gateways: what each saw of each deployment, per interval.

A gateway reports, every interval, each deployment it has served recently — zeros included — so
a window of samples covers time exactly; the autoscaler averages over the covered part. Times
are seconds since the Unix epoch, so windows are summed in SQL on both databases.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from flotilla.store.prepared import Prepared, execute_many, fetch
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


_SAMPLES = cast(sa.Table, TrafficSampleRow.__table__)
_DEPLOYMENTS = cast(sa.Table, DeploymentRow.__table__)
_SAMPLE_FIELDS = tuple(f.name for f in fields(Sample))
"""A sample's columns besides ``gateway``: the row stores the sample as it is."""
_INSERT = Prepared(
    sa.insert(_SAMPLES).values(
        {
            name: sa.bindparam(name, type_=_SAMPLES.c[name].type)
            for name in ("gateway", *_SAMPLE_FIELDS)
        }
    )
)
_LAST_REQUEST = Prepared(
    sa.update(_DEPLOYMENTS)
    .where(
        _DEPLOYMENTS.c.pk == sa.bindparam("deployment_pk"),
        sa.or_(
            _DEPLOYMENTS.c.last_request_at.is_(None),
            _DEPLOYMENTS.c.last_request_at < sa.bindparam("at"),
        ),
    )
    .values(last_request_at=sa.bindparam("at"))
)


async def record(session: AsyncSession, gateway: str, samples: list[Sample]) -> None:
    """Store a report: the samples in one insert, each deployment's newest request in one
    batched update (a report covers every deployment a gateway serves, every interval)."""
    if samples:
        await session.run_sync(_record, gateway, samples)


def _record(session: Session, gateway: str, samples: list[Sample]) -> None:
    execute_many(
        session,
        _INSERT,
        [
            {"gateway": gateway, **{name: getattr(s, name) for name in _SAMPLE_FIELDS}}
            for s in samples
        ],
    )
    latest: dict[int, datetime] = {}
    for s in samples:
        if s.last_request_at is not None and (
            s.deployment_pk not in latest or s.last_request_at > latest[s.deployment_pk]
        ):
            latest[s.deployment_pk] = s.last_request_at
    execute_many(
        session, _LAST_REQUEST, [{"deployment_pk": pk, "at": at} for pk, at in latest.items()]
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
    """Average in-flight requests and arrivals per second of one deployment over one window, and
    how much of it was covered."""

    average: float
    covered_seconds: float
    arrival_rate: float = 0.0


def _clip(column: Any, bound: Any, upper: bool) -> Any:
    """min(column, bound) (``upper``) or max(column, bound), portable across databases."""
    return sa.case((column < bound, column if upper else bound), else_=bound if upper else column)


_T = _SAMPLES.c
_NEWEST = Prepared(sa.select(sa.func.max(_T.end_s)))


def window_end(session: Session, now: datetime, max_lag: float) -> float | None:
    """Where windows end: at the newest report, since the last moments are yet to be reported —
    but never more than ``max_lag`` before now, so that when reports stop, silence counts."""
    newest = fetch(session, _NEWEST)[0][0]
    if newest is None:
        return None
    return min(max(float(newest), now.timestamp() - max_lag), now.timestamp())


def _window_query() -> Any:
    lo = sa.bindparam("lo", type_=sa.Float())
    end = sa.bindparam("end", type_=sa.Float())
    start = _clip(_T.start_s, lo, upper=False)
    stop = _clip(_T.end_s, end, upper=True)
    # a sample's arrivals count in proportion to the part of it inside the window
    share = (stop - start) / sa.func.nullif(_T.end_s - _T.start_s, 0.0)
    return (
        sa.select(
            _T.deployment_pk,
            sa.func.sum(_T.in_flight * (stop - start)),
            sa.func.min(start),
            sa.func.sum(_T.arrivals * share),
        )
        .where(_T.end_s > lo, _T.start_s < end)
        .group_by(_T.deployment_pk)
    )


_WINDOW = Prepared(_window_query())


def windows(session: Session, end: float, seconds: float) -> dict[int, Window]:
    """Time-weighted in-flight averages and arrival rates over [end - seconds, end), for each
    deployment reported on in that time."""
    found = {}
    for pk, integral, first, arrivals in fetch(session, _WINDOW, {"lo": end - seconds, "end": end}):
        covered = max(end - float(first), 1e-9)
        found[pk] = Window(
            average=float(integral or 0.0) / covered,
            covered_seconds=covered,
            arrival_rate=float(arrivals or 0.0) / covered,
        )
    return found


_HELD = Prepared(
    sa.select(_T.deployment_pk, _T.gateway, _T.held)
    .where(_T.end_s > sa.bindparam("since", type_=sa.Float()))
    .order_by(_T.end_s)
)


def held_now(session: Session, end: float, interval: float) -> dict[int, int]:
    """Requests held at the newest report of each gateway (reports within ``interval`` of the
    end), per deployment."""
    newest: dict[tuple[int, str], int] = {}
    for pk, gateway, held in fetch(session, _HELD, {"since": end - interval}):
        newest[(pk, gateway)] = held
    totals: dict[int, int] = defaultdict(int)
    for (pk, _), held in newest.items():
        totals[pk] += held
    return dict(totals)
