"""Traffic signals: what the gateway saw of each deployment, reported to the server every second.

Each interval carries the time-weighted average of requests in flight (held ones included),
arrivals, requests held at its end, the last request's time, p50/p99 latency and errors. Every
deployment seen within ``idle_seconds`` is reported every interval, zeros included, so the
autoscaler's windows are covered. A request held at zero replicas triggers a report at once: the
server wakes the autoscaler and the deployment starts scaling without waiting for the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("flotilla.gateway")

MAX_LATENCY_SAMPLES = 10_000
"""Latencies kept per deployment per interval (a uniform sample beyond that)."""
MAX_BACKLOG = 60
"""Intervals kept for re-sending while the server does not answer."""

Sample = dict[str, Any]


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class Traffic:
    """One deployment's counters for the current interval. Called on every request: keep cheap."""

    __slots__ = (
        "arrivals",
        "changed_at",
        "errors",
        "held",
        "integral",
        "last_request_at",
        "latencies",
        "level",
        "pk",
        "retired",
        "seen",
        "seen_at",
    )

    def __init__(self, pk: int, now: float) -> None:
        self.pk = pk
        self.level = 0
        """Requests in the gateway now (held or at a replica)."""
        self.held = 0
        self.integral = 0.0
        self.changed_at = now
        self.arrivals = 0
        self.errors = 0
        self.latencies: list[float] = []
        self.seen = 0
        self.last_request_at: float | None = None
        self.seen_at: float | None = None
        """When a request was last in the gateway (None: never since start)."""
        self.retired = False
        """The deployment is gone from the routes: forgotten once its requests are done."""

    def arrive(self, now: float) -> None:
        self.integral += self.level * (now - self.changed_at)
        self.changed_at = now
        self.level += 1
        self.arrivals += 1
        self.seen_at = now
        self.last_request_at = time.time()

    def depart(self, now: float, latency_ms: float, failed: bool) -> None:
        self.integral += self.level * (now - self.changed_at)
        self.changed_at = now
        self.level -= 1
        self.seen_at = now
        if failed:
            self.errors += 1
        self.seen += 1
        if len(self.latencies) < MAX_LATENCY_SAMPLES:
            self.latencies.append(latency_ms)
        else:  # reservoir: every latency of the interval equally likely to be kept
            slot = random.randrange(self.seen)
            if slot < MAX_LATENCY_SAMPLES:
                self.latencies[slot] = latency_ms

    def recent(self, now: float, idle_seconds: float) -> bool:
        """Whether it is reported: requests in the gateway now or within ``idle_seconds``."""
        return self.level > 0 or (self.seen_at is not None and now - self.seen_at <= idle_seconds)

    def close(self, now: float, started: float, start_s: float, end_s: float) -> Sample:
        """The sample for [started, now) (monotonic) = [start_s, end_s) (epoch); resets."""
        self.integral += self.level * (now - self.changed_at)
        self.changed_at = now
        ordered = sorted(self.latencies)
        last = self.last_request_at
        sample: Sample = {
            "deployment_pk": self.pk,
            "start_s": start_s,
            "end_s": end_s,
            "in_flight": self.integral / max(now - started, 1e-6),
            "arrivals": self.arrivals,
            "held": self.held,
            "last_request_at": None
            if last is None
            else datetime.fromtimestamp(last, UTC).isoformat(),
            "latency_ms_p50": round(_percentile(ordered, 50), 3) if ordered else None,
            "latency_ms_p99": round(_percentile(ordered, 99), 3) if ordered else None,
            "errors": self.errors,
        }
        self.integral = 0.0
        self.arrivals = self.errors = self.seen = 0
        self.latencies = []
        self.last_request_at = None
        if self.level:
            self.seen_at = now
        return sample


Report = Callable[[list[Sample]], Awaitable[None]]


class TrafficReporter:
    """Keeps a ``Traffic`` per deployment and sends their samples every ``interval``."""

    def __init__(self, report: Report, interval: float = 1.0, idle_seconds: float = 600.0) -> None:
        self.report = report
        self.interval = interval
        self.idle_seconds = idle_seconds
        self.by_pk: dict[int, Traffic] = {}
        self._soon = asyncio.Event()
        self._started = time.monotonic()
        self._started_s = time.time()
        self._backlog: list[list[Sample]] = []

    def traffic(self, pk: int) -> Traffic:
        found = self.by_pk.get(pk)
        if found is None:
            found = self.by_pk[pk] = Traffic(pk, time.monotonic())
        return found

    def report_soon(self) -> None:
        """Send the current interval now (a request is held: the autoscaler must know)."""
        self._soon.set()

    def collect(self) -> list[Sample]:
        """Close the interval: one sample per deployment seen recently, zeros included; forget
        deployments gone from the routes once their requests are done."""
        now, end_s = time.monotonic(), time.time()
        started, start_s = self._started, self._started_s
        self._started, self._started_s = now, end_s
        samples = []
        for pk, t in list(self.by_pk.items()):
            if t.recent(now, self.idle_seconds):
                samples.append(t.close(now, started, start_s, end_s))
            if t.retired and t.level == 0:
                del self.by_pk[pk]
        return samples

    async def send(self) -> None:
        samples = self.collect()
        if samples:
            self._backlog.append(samples)
        del self._backlog[:-MAX_BACKLOG]
        while self._backlog:
            try:
                await self.report(self._backlog[0])
            except Exception as error:  # the server is away: keep the intervals, try next time
                log.warning("could not report traffic (%s); will retry", error)
                return
            self._backlog.pop(0)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            wait = self.interval - (time.monotonic() - self._started)
            if wait > 0 and not self._soon.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._soon.wait(), timeout=wait)
            self._soon.clear()
            await self.send()
        await self.send()  # the last interval, on shutdown
