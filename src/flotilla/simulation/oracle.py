"""The clairvoyant cost of a trace: a floor no online autoscaler can go below.

The oracle knows every arrival in advance. Each second it runs exactly the replicas that second
needs — ⌈arrivals × service time ÷ slots⌉ per deployment — packed onto the cheapest node
(price per replica, spot where the nodepool allows it). It starts each node exactly one warm-up
(node launch plus model load) before the node is first needed, and keeps it through gaps shorter
than a warm-up (stopping and restarting would cost the same or more). Spot interruptions, launch
jitter, queueing and headroom do not exist for it.

Pure: a function of the trace, the setup and the catalog.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from flotilla.catalog import Catalog
from flotilla.domain.quantities import parse_cpu, parse_memory
from flotilla.domain.states import CapacityType
from flotilla.simulation.run import Setup
from flotilla.simulation.traces import Trace

PROVIDER = "sim"
REGION = "sim-east"


@dataclass(frozen=True)
class NodeChoice:
    instance_type: str
    capacity_type: CapacityType
    price_per_hour: float
    replicas_per_node: int
    warmup_seconds: float
    """Node launch plus model load."""

    @property
    def price_per_replica(self) -> float:
        return self.price_per_hour / self.replicas_per_node


@dataclass(frozen=True)
class OracleResult:
    cost: float
    node_seconds: float
    choice: NodeChoice
    replicas: list[int]
    """Replicas needed in each second of the trace, all deployments together."""
    nodes: list[int]
    """Nodes those replicas need, each second."""


def cheapest_node(setup: Setup, catalog: Catalog, region: str = REGION) -> NodeChoice:
    """The instance type and capacity type of the nodepool with the lowest price per replica."""
    cpu, memory = parse_cpu(setup.replica_cpu), parse_memory(setup.replica_memory)
    best: NodeChoice | None = None
    for type_id in setup.instance_types:
        it = catalog.instance_type(PROVIDER, region, type_id)
        if it is None:
            raise ValueError(f"instance type '{type_id}' is not in the {PROVIDER} catalog")
        fits = min(int(it.allocatable.cpu) // cpu, int(it.allocatable.memory) // memory)
        if fits < 1:
            continue
        for capacity in setup.capacity_types:
            price = it.price_per_hour.spot if capacity == CapacityType.SPOT else None
            if capacity == CapacityType.ON_DEMAND:
                price = it.price_per_hour.on_demand
            if price is None or capacity not in it.allowed_capacity_types:
                continue
            warmup = float(it.launch_seconds or 60.0) + setup.load_seconds
            choice = NodeChoice(type_id, capacity, price, fits, warmup)
            if best is None or choice.price_per_replica < best.price_per_replica:
                best = choice
    if best is None:
        raise ValueError("no instance type of the nodepool can hold a replica")
    return best


def replicas_needed(trace: Trace, setup: Setup) -> list[int]:
    """Per second: ⌈arrivals × service seconds ÷ slots⌉ for each deployment, summed."""
    seconds = math.ceil(trace.duration)
    total = [0] * seconds
    per_replica = setup.profile.slots / setup.profile.service_seconds
    for times in trace.arrivals.values():
        counts = [0] * seconds
        for t in times:
            counts[min(int(t), seconds - 1)] += 1
        for second, count in enumerate(counts):
            if count:
                total[second] += math.ceil(count / per_replica - 1e-9)
    return total


def level_seconds(busy: Sequence[bool], warmup: float) -> float:
    """Seconds one node is paid for when it must run in the ``busy`` seconds: each run of them,
    one warm-up before the first, and each gap after a run up to a warm-up's length."""
    paid = 0.0
    gap: int | None = None  # seconds since the last busy one; None before the first
    for needed in busy:
        if needed:
            paid += 1 + (warmup if gap is None else min(gap, warmup))
            gap = 0
        elif gap is not None:
            gap += 1
    return paid


def oracle(trace: Trace, setup: Setup, catalog: Catalog) -> OracleResult:
    """The clairvoyant cost of serving ``trace`` on ``setup``'s nodepool."""
    choice = cheapest_node(setup, catalog)
    replicas = replicas_needed(trace, setup)
    nodes = [math.ceil(r / choice.replicas_per_node) for r in replicas]
    node_seconds = sum(
        level_seconds([n >= level for n in nodes], choice.warmup_seconds)
        for level in range(1, max(nodes, default=0) + 1)
    )
    cost = node_seconds / 3600 * choice.price_per_hour
    return OracleResult(cost, node_seconds, choice, replicas, nodes)
