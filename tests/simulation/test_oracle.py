"""The clairvoyant oracle on tiny hand-made traces, with exact costs.

The setup: sim-cpu-medium (3 replicas of 1 CPU fit its 3.82 allocatable CPUs; spot $0.076/h,
on-demand $0.192/h, launch 60 s) and a 20 s model load: a warm-up of 80 s. A replica answers
4 requests at once in 0.2 s: 20 requests a second.
"""

from __future__ import annotations

import pytest

from flotilla.catalog import shipped_catalog
from flotilla.domain.states import CapacityType
from flotilla.simulation.dataplane import ModelProfile
from flotilla.simulation.oracle import cheapest_node, level_seconds, oracle, replicas_needed
from flotilla.simulation.run import Setup
from flotilla.simulation.traces import Trace

SPOT = 0.076 / 3600
ON_DEMAND = 0.192 / 3600
SETUP = Setup(
    instance_types=("sim-cpu-medium",),
    capacity_types=(CapacityType.SPOT, CapacityType.ON_DEMAND),
    replica_cpu="1",
    replica_memory="2Gi",
    profile=ModelProfile(service_seconds=0.2, slots=4),
    load_seconds=20.0,
)


def at(*seconds: float, per_second: int = 1) -> list[float]:
    return sorted(s + i / (per_second + 1) for s in seconds for i in range(per_second))


def cost(arrivals: dict[str, list[float]], duration: float = 400.0, setup: Setup = SETUP) -> float:
    return oracle(Trace("t", duration, arrivals), setup, shipped_catalog()).cost


def test_the_cheapest_node_is_spot_with_three_replicas_and_an_80_s_warm_up() -> None:
    choice = cheapest_node(SETUP, shipped_catalog())
    assert (choice.instance_type, choice.capacity_type) == ("sim-cpu-medium", CapacityType.SPOT)
    assert (choice.replicas_per_node, choice.warmup_seconds) == (3, 80.0)


def test_one_second_of_need_costs_one_second_plus_a_warm_up() -> None:
    assert cost({"a": at(100.5)}) == pytest.approx(81 * SPOT)


def test_a_gap_shorter_than_a_warm_up_is_kept_warm() -> None:
    assert cost({"a": at(100.5, 110.5)}) == pytest.approx((80 + 1 + 9 + 1) * SPOT)


def test_a_gap_longer_than_a_warm_up_costs_a_new_warm_up() -> None:
    assert cost({"a": at(0.5, 200.5)}) == pytest.approx(2 * 81 * SPOT)


def test_replicas_are_ceil_of_rate_times_service_over_slots_per_deployment() -> None:
    trace = Trace("t", 3.0, {"a": at(0, per_second=21), "b": at(0, 1, per_second=5)})
    assert replicas_needed(trace, SETUP) == [3, 1, 0]  # a: 21/20 → 2, b: 5/20 → 1


def test_replicas_of_all_deployments_share_nodes() -> None:
    three = {name: at(100.5) for name in "abc"}
    assert cost(three) == pytest.approx(81 * SPOT)
    four = {name: at(100.5) for name in "abcd"}
    assert cost(four) == pytest.approx(2 * 81 * SPOT)


def test_each_node_level_keeps_its_own_gaps() -> None:
    # Four replicas (two nodes) at 100 and 300, one more at 150, 200 and 250: the first node's
    # gaps are 49 s (kept warm), the second node's 199 s (stopped, warmed up again).
    arrivals = {n: at(100.5, 300.5) for n in "abcd"} | {"e": at(150.5, 200.5, 250.5)}
    first = 81 + 49 + 1 + 49 + 1 + 49 + 1 + 49 + 1  # 100, 150, 200, 250, 300: gaps of 49
    second = 81 + 81
    assert cost(arrivals) == pytest.approx((first + second) * SPOT)


def test_on_demand_only_pays_the_on_demand_price() -> None:
    setup = Setup(capacity_types=(CapacityType.ON_DEMAND,), load_seconds=20.0)
    assert cost({"a": at(100.5)}, setup=setup) == pytest.approx(81 * ON_DEMAND)


def test_a_level_is_paid_from_one_warm_up_before_its_first_second() -> None:
    assert level_seconds([False, True, True, False, False, True], warmup=1.0) == 1 + 2 + 1 + 1
    assert level_seconds([False, False], warmup=10.0) == 0
