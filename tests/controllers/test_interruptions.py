"""Spot interruptions: with notice longer than a launch, no request fails."""

from __future__ import annotations

from pathlib import Path

from flotilla.domain.states import CapacityType
from flotilla.simulation.dataplane import ModelProfile
from flotilla.simulation.run import Setup, Simulation
from flotilla.simulation.traces import Trace


def steady(rate_per_second: float, duration: float) -> list[float]:
    step = 1.0 / rate_per_second
    return [i * step for i in range(int(duration * rate_per_second))]


async def test_an_interruption_whose_notice_outlasts_a_launch_fails_no_request(
    tmp_path: Path,
) -> None:
    trace = Trace(name="steady", duration=500.0, arrivals={"steady-0": steady(8, 500.0)})
    setup = Setup(
        instance_types=("sim-cpu-small",),
        capacity_types=(CapacityType.SPOT, CapacityType.ON_DEMAND),
        replica_cpu="1",
        profile=ModelProfile(service_seconds=0.2, slots=4, jitter=0.0),
        load_seconds=10.0,
        autoscale={"min_replicas": 1, "max_replicas": 4, "scale_down_delay_seconds": 600},
        dt=2.0,
    )
    sim = Simulation(trace, setup, tmp_path)
    try:
        await sim.start()
        while sim.t < 120:
            await sim.step()
        before = sim.outcomes()
        spot = [i for i in sim.cloud.alive() if i.spec.capacity_type == CapacityType.SPOT]
        assert spot, "the pool runs on spot"
        for instance in spot:  # sim-cpu-small launches in ~45 s; the notice is 120 s
            sim.cloud.interrupt(instance.instance_id, notice_seconds=120)
        while sim.t < trace.duration:
            await sim.step()
        outcomes = sim.outcomes()
        interrupted = {i.instance_id for i in spot}
        assert all(sim.cloud.instances[i].state.value == "terminated" for i in interrupted)
        assert outcomes.total == len(trace.arrivals["steady-0"])
        assert outcomes.failed == 0
        assert outcomes.dropped == 0
        assert outcomes.cold == before.cold  # no request waited for a replica after the notice
        assert outcomes.within_slo - before.within_slo == outcomes.total - before.total

    finally:
        await sim.close()


async def test_a_replacement_whose_node_is_interrupted_too_moves_again_in_time(
    tmp_path: Path,
) -> None:
    """Interrupted while its replacement node is still launching: the replacements wait for
    another node, and the replicas they replace serve until they are ready there."""
    trace = Trace(name="steady", duration=400.0, arrivals={"steady-0": steady(8, 400.0)})
    setup = Setup(
        instance_types=("sim-cpu-small",),
        capacity_types=(CapacityType.SPOT, CapacityType.ON_DEMAND),
        replica_cpu="1",
        profile=ModelProfile(service_seconds=0.2, slots=4, jitter=0.0),
        load_seconds=10.0,
        autoscale={"min_replicas": 1, "max_replicas": 4, "scale_down_delay_seconds": 600},
        dt=2.0,
    )
    sim = Simulation(trace, setup, tmp_path)
    try:
        await sim.start()
        while sim.t < 120:
            await sim.step()
        before = sim.outcomes()
        first = {i.instance_id for i in sim.cloud.alive()}
        for instance_id in first:  # reclaimed at 240 s
            sim.cloud.interrupt(instance_id, notice_seconds=120)
        while sim.t < 130:
            await sim.step()
        second = {i.instance_id for i in sim.cloud.alive()} - first
        assert second, "a replacement node is launching"
        for instance_id in second:  # reclaimed at 190 s, before anything on it could take over
            sim.cloud.interrupt(instance_id, notice_seconds=60)
        while sim.t < trace.duration:
            await sim.step()
        outcomes = sim.outcomes()
        assert all(sim.cloud.instances[i].state.value == "terminated" for i in first | second)
        assert outcomes.failed == 0
        assert outcomes.dropped == 0
        assert outcomes.cold == before.cold  # a replica was ready the whole time
        assert outcomes.within_slo - before.within_slo == outcomes.total - before.total
    finally:
        await sim.close()
