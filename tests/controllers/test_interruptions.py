"""Spot interruptions: with notice longer than a launch, no request fails."""

from __future__ import annotations

from pathlib import Path

from flotilla.domain.states import CapacityType
from flotilla.simulation.dataplane import ModelProfile, Outcomes
from flotilla.simulation.run import Setup, Simulation
from flotilla.simulation.traces import Trace


def steady(rate_per_second: float, duration: float) -> list[float]:
    step = 1.0 / rate_per_second
    return [i * step for i in range(int(duration * rate_per_second))]


SPOT_POOL = Setup(
    instance_types=("sim-cpu-small",),
    capacity_types=(CapacityType.SPOT, CapacityType.ON_DEMAND),
    replica_cpu="1",
    profile=ModelProfile(service_seconds=0.2, slots=4, jitter=0.0),
    load_seconds=10.0,
    autoscale={"min_replicas": 1, "max_replicas": 4, "scale_down_delay_seconds": 600},
    dt=2.0,
)
"""sim-cpu-small spot nodes (a launch takes ~45 s) serving 8 requests/s of 0.2 s each."""


def steady_trace(duration: float) -> Trace:
    return Trace(name="steady", duration=duration, arrivals={"steady-0": steady(8, duration)})


async def run_until(sim: Simulation, t: float) -> None:
    while sim.t < t:
        await sim.step()


def assert_all_served_in_time_since(before: Outcomes, outcomes: Outcomes) -> None:
    """No request failed, was dropped or waited for a replica; each was answered within the SLO."""
    assert outcomes.failed == 0
    assert outcomes.dropped == 0
    assert outcomes.cold == before.cold
    assert outcomes.within_slo - before.within_slo == outcomes.total - before.total


async def test_an_interruption_whose_notice_outlasts_a_launch_fails_no_request(
    tmp_path: Path,
) -> None:
    trace = steady_trace(500.0)
    sim = Simulation(trace, SPOT_POOL, tmp_path)
    try:
        await sim.start()
        await run_until(sim, 120)
        before = sim.outcomes()
        spot = [i for i in sim.cloud.alive() if i.spec.capacity_type == CapacityType.SPOT]
        assert spot, "the pool runs on spot"
        for instance in spot:  # sim-cpu-small launches in ~45 s; the notice is 120 s
            sim.cloud.interrupt(instance.instance_id, notice_seconds=120)
        await run_until(sim, trace.duration)
        outcomes = sim.outcomes()
        interrupted = {i.instance_id for i in spot}
        assert all(sim.cloud.instances[i].state.value == "terminated" for i in interrupted)
        assert outcomes.total == len(trace.arrivals["steady-0"])
        assert_all_served_in_time_since(before, outcomes)
    finally:
        await sim.close()


async def test_a_replacement_whose_node_is_interrupted_too_moves_again_in_time(
    tmp_path: Path,
) -> None:
    """Interrupted while its replacement node is still launching: the replacements wait for
    another node, and the replicas they replace serve until they are ready there."""
    trace = steady_trace(400.0)
    sim = Simulation(trace, SPOT_POOL, tmp_path)
    try:
        await sim.start()
        await run_until(sim, 120)
        before = sim.outcomes()
        first = {i.instance_id for i in sim.cloud.alive()}
        for instance_id in first:  # reclaimed at 240 s
            sim.cloud.interrupt(instance_id, notice_seconds=120)
        await run_until(sim, 130)
        second = {i.instance_id for i in sim.cloud.alive()} - first
        assert second, "a replacement node is launching"
        for instance_id in second:  # reclaimed at 190 s, before anything on it could take over
            sim.cloud.interrupt(instance_id, notice_seconds=60)
        await run_until(sim, trace.duration)
        outcomes = sim.outcomes()
        assert all(sim.cloud.instances[i].state.value == "terminated" for i in first | second)
        assert_all_served_in_time_since(before, outcomes)  # a replica was ready throughout
    finally:
        await sim.close()
