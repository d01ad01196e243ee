"""Prometheus metrics of the gateway, in its own registry.

Requests are counted in plain Python (a dict increment and a bisect per request, no locks) and
turned into metric families only when ``/metrics`` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from flotilla.gateway.routing import RouteTable

BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class Latency:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds
        self.count += 1


class GatewayMetrics(Collector):
    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        """(deployment, status) → requests answered."""
        self.latency: dict[str, Latency] = defaultdict(Latency)
        self.retries: dict[str, int] = defaultdict(int)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def answered(self, deployment: str, status: int, seconds: float) -> None:
        self.requests[(deployment, status)] += 1
        self.latency[deployment].observe(seconds)

    def retried(self, deployment: str) -> None:
        self.retries[deployment] += 1

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        requests = CounterMetricFamily(
            "flotilla_gateway_requests",
            "Predict requests answered, by deployment (owner/id) and HTTP status.",
            labels=["deployment", "status"],
        )
        for (deployment, status), count in list(self.requests.items()):
            requests.add_metric([deployment, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "flotilla_gateway_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, held time included.",
            labels=["deployment"],
        )
        for deployment, observed in list(self.latency.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), observed.buckets, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric([deployment], buckets, observed.sum)
        yield latency
        retries = CounterMetricFamily(
            "flotilla_gateway_upstream_retries",
            "Requests sent again to another replica after a connection failure.",
            labels=["deployment"],
        )
        for deployment, count in list(self.retries.items()):
            retries.add_metric([deployment], count)
        yield retries
        in_flight = GaugeMetricFamily(
            "flotilla_gateway_in_flight_requests",
            "Requests in the gateway now (held ones included), by deployment.",
            labels=["deployment"],
        )
        held = GaugeMetricFamily(
            "flotilla_gateway_held_requests",
            "Requests waiting for a ready replica, by deployment.",
            labels=["deployment"],
        )
        replicas = GaugeMetricFamily(
            "flotilla_gateway_ready_replicas",
            "Replicas the gateway routes to, by deployment.",
            labels=["deployment"],
        )
        for known in list(self.table.by_pk.values()):
            in_flight.add_metric([known.label], known.traffic.level)
            held.add_metric([known.label], known.traffic.held)
            replicas.add_metric([known.label], len(known.replicas))
        yield in_flight
        yield held
        yield replicas
