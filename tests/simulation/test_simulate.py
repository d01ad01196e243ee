"""A few virtual minutes of traffic through ``simulate``: the real stack serves them, with
Flotilla's autoscaler and with a baseline plugged into the reconciler in its place."""

from __future__ import annotations

import pytest

from flotilla.controllers.decide import Autoscaler
from flotilla.policies.autoscale import decide_replicas
from flotilla.simulation import baselines
from flotilla.simulation.dataplane import ModelProfile
from flotilla.simulation.run import Setup, simulate
from flotilla.simulation.traces import Trace

DURATION = 240.0


def steady(rate: float, start: float, end: float) -> list[float]:
    return [start + i / rate for i in range(int((end - start) * rate))]


@pytest.mark.parametrize(
    ("policy", "autoscaler", "autoscale"),
    [
        ("flotilla", decide_replicas, {"max_replicas": 4, "target_concurrency": 3.0}),
        ("kpa", baselines.kpa, {"max_replicas": 4, "traffic_history_seconds": 60}),
    ],
)
async def test_a_few_minutes_of_requests_are_served_and_priced(
    policy: str, autoscaler: Autoscaler, autoscale: dict[str, object]
) -> None:
    trace = Trace("steady", DURATION, {"steady-0": steady(5.0, 10.0, DURATION)})
    setup = Setup(
        instance_types=("sim-cpu-small",),
        profile=ModelProfile(service_seconds=0.2, slots=4, jitter=0.0),
        load_seconds=10.0,
        autoscale=autoscale,
        autoscaler=autoscaler,
        burst_seconds=6.0,
        dt=5.0,
    )
    result = await simulate(trace, setup, policy)

    assert (result.trace, result.policy) == ("steady", policy)
    o = result.outcomes
    assert o.total == len(trace.arrivals["steady-0"])
    assert o.cold > 0  # the first requests waited for a node and a replica
    assert o.within_slo > o.total / 2  # then the replica answered the rest in time
    assert o.dropped == o.failed == 0
    assert result.cost > 0
    assert set(result.node_hours) == {"spot"}
    assert result.passes == len(result.timeline) == DURATION / setup.dt
    t, nodes, ready, _ = result.timeline[-1]
    assert t == DURATION
    assert nodes >= ready >= 1  # one replica per sim-cpu-small node
