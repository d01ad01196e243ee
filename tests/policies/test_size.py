"""Node sizing: what to add for unplaced replicas, what to remove when idle."""

from __future__ import annotations

from flotilla.domain.states import CapacityType
from flotilla.policies.capacity import RunningNode, Shortages, capacity_order, spot_return
from flotilla.policies.schedule import ReplicaRequest
from flotilla.policies.shapes import Capacity, Shape
from flotilla.policies.size import (
    IdleNode,
    InstanceOption,
    PoolPlan,
    plan_growth,
    plan_minimum,
    plan_removal,
)

GI = 2**30
SPOT, OD = CapacityType.SPOT, CapacityType.ON_DEMAND


def option(type_id: str, cpu: int, price: float, gpus: int = 0) -> InstanceOption:
    return InstanceOption(
        type_id,
        Capacity(cpu, cpu * 4 * GI // 1000, gpus, "NVIDIA-A10G" if gpus else None),
        (OD,),
        (price,),
    )


def pool(
    key: int = 1,
    *options: InstanceOption,
    max_instances: int = 10,
    live: int = 0,
    min_instances: int = 0,
) -> PoolPlan:
    return PoolPlan(
        key=key,
        name=f"pool{key}",
        min_instances=min_instances,
        max_instances=max_instances,
        live_nodes=live,
        options=options,
    )


def req(
    key: int,
    cpu: int = 1000,
    pools: tuple[int, ...] = (1,),
    deployment: int = 1,
    no_packing: bool = False,
) -> ReplicaRequest:
    return ReplicaRequest(key, deployment, Shape(cpu, GI), pools, no_packing)


def test_the_type_with_the_lowest_cost_per_placed_replica_is_chosen() -> None:
    small, large = option("small", 2000, 0.10), option("large", 8000, 0.30)
    growth = plan_growth([req(i) for i in range(8)], {1: pool(1, small, large)})
    assert {n.option.type_id for n in growth.new_nodes} == {"large"}
    assert sum(len(n.replicas) for n in growth.new_nodes) == 8


def test_a_single_small_replica_gets_the_small_type() -> None:
    small, large = option("small", 2000, 0.10), option("large", 8000, 0.30)
    growth = plan_growth([req(1)], {1: pool(1, small, large)})
    assert [n.option.type_id for n in growth.new_nodes] == ["small"]
    assert growth.new_nodes[0].reason == "1 replicas pending, small cheapest fit"


def test_max_instances_is_never_exceeded_and_the_rest_spills_over() -> None:
    small = option("small", 2000, 0.10)
    pools = {1: pool(1, small, max_instances=2, live=1), 2: pool(2, small)}
    growth = plan_growth([req(i, cpu=2000, pools=(1, 2)) for i in range(3)], pools)
    assert [n.pool for n in growth.new_nodes].count(1) == 1
    assert [n.pool for n in growth.new_nodes].count(2) == 2


def test_replicas_that_fit_nowhere_are_reported_with_the_reason() -> None:
    growth = plan_growth([req(1, cpu=16000)], {1: pool(1, option("small", 2000, 0.1))})
    assert growth.new_nodes == []
    assert "no instance type" in growth.unplaceable[0][1]


def test_min_instances_adds_the_cheapest_nodes() -> None:
    nodes = plan_minimum(
        pool(1, option("a", 4000, 0.4), option("b", 2000, 0.1), min_instances=2, live=1), planned=0
    )
    assert [n.option.type_id for n in nodes] == ["b"]


def test_empty_nodes_go_after_the_delay_most_expensive_first_never_below_min() -> None:
    nodes = [
        IdleNode(1, empty_since=0.0, price=0.1),
        IdleNode(2, empty_since=0.0, price=0.5),
        IdleNode(3, empty_since=250.0, price=0.9),
        IdleNode(4, None, 0.2),
    ]
    assert plan_removal(pool(1, min_instances=2, live=4), nodes, delay=300, now=300.0) == [2, 1]
    assert plan_removal(pool(1, min_instances=3, live=4), nodes, delay=300, now=300.0) == [2]


def test_spot_is_skipped_while_remembered_short_then_tried_again() -> None:
    short = Shortages({("aws", "us-east-1", "g5.xlarge", SPOT): 100.0})
    assert capacity_order([SPOT, OD], [SPOT, OD], short, "aws", "us-east-1", "g5.xlarge", 50.0) == (
        OD,
    )
    assert capacity_order(
        [SPOT, OD], [SPOT, OD], short, "aws", "us-east-1", "g5.xlarge", 100.0
    ) == (SPOT, OD)


def test_on_demand_nodes_are_replaced_by_spot_one_at_a_time_when_spot_is_back() -> None:
    nodes = [
        RunningNode(1, 1, "g5.xlarge", OD, ready=True, cordoned=False),
        RunningNode(2, 1, "g5.xlarge", SPOT, True, False),
    ]
    short = Shortages({})
    chosen = spot_return(
        [SPOT, OD], nodes, {"g5.xlarge": True}, short, "aws", "us-east-1", 0.0, replacing=False
    )
    assert chosen is not None and chosen.key == 1
    assert (
        spot_return(
            [SPOT, OD], nodes, {"g5.xlarge": True}, short, "aws", "us-east-1", 0.0, replacing=True
        )
        is None
    )
    assert (
        spot_return(
            [OD, SPOT], nodes, {"g5.xlarge": True}, short, "aws", "us-east-1", 0.0, replacing=False
        )
        is None
    )
