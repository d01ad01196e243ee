"""A deployment's recent traffic, from the gateways' samples (``traffic_samples``), as charts.

Requests per second sum every gateway's arrivals; latency percentiles are the arrival-weighted
mean of the gateways' per-interval percentiles (an approximation, good enough to see a trend).
A bucket no gateway reported on is a gap, not a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.console.charts import Series, line_chart
from flotilla.services.context import Caller
from flotilla.services.lookup import deployment_row
from flotilla.store.tables import TrafficSampleRow

WINDOW_SECONDS = 1800
BUCKETS = 60


@dataclass(frozen=True)
class Traffic:
    requests_chart: Markup
    latency_chart: Markup
    requests: int
    errors: int
    window_minutes: int


@dataclass
class _Bucket:
    arrivals: int = 0
    errors: int = 0
    reported: bool = False
    weighted_p50: float = 0.0
    weighted_p99: float = 0.0
    weight: int = 0


async def recent_traffic(
    session: AsyncSession, caller: Caller, deployment_id: str, now: datetime
) -> Traffic:
    """The last half hour of the caller's deployment ``deployment_id``."""
    deployment = await deployment_row(session, caller, deployment_id)
    end = now.timestamp()
    start = end - WINDOW_SECONDS
    size = WINDOW_SECONDS / BUCKETS
    t = TrafficSampleRow
    rows = await session.execute(
        sa.select(
            t.start_s, t.end_s, t.arrivals, t.errors, t.latency_ms_p50, t.latency_ms_p99
        ).where(t.deployment_pk == deployment.pk, t.end_s > start)
    )
    buckets = [_Bucket() for _ in range(BUCKETS)]
    for start_s, end_s, arrivals, errors, p50, p99 in rows.all():
        middle = (start_s + end_s) / 2  # an interval counts where most of it lies
        bucket = buckets[min(max(int((middle - start) // size), 0), BUCKETS - 1)]
        bucket.reported = True
        bucket.arrivals += arrivals
        bucket.errors += errors
        if arrivals and p50 is not None and p99 is not None:
            bucket.weighted_p50 += p50 * arrivals
            bucket.weighted_p99 += p99 * arrivals
            bucket.weight += arrivals
    labels = ["−30 min", "−20 min", "−10 min", "now"]
    rate = Series("requests/s", [b.arrivals / size if b.reported else None for b in buckets])
    failed = Series(
        "errors/s", [b.errors / size if b.reported else None for b in buckets], css="s3"
    )
    median = Series("p50", [b.weighted_p50 / b.weight if b.weight else None for b in buckets])
    tail = Series(
        "p99", [b.weighted_p99 / b.weight if b.weight else None for b in buckets], css="s2"
    )
    return Traffic(
        requests_chart=line_chart("Requests per second", [rate, failed], "req/s", labels),
        latency_chart=line_chart("Latency", [median, tail], "ms", labels),
        requests=sum(b.arrivals for b in buckets),
        errors=sum(b.errors for b in buckets),
        window_minutes=WINDOW_SECONDS // 60,
    )
