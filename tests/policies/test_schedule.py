"""Placement rules of the scheduler, each on a handful of nodes."""

from __future__ import annotations

from flotilla.domain.states import SchedulingChoice
from flotilla.policies.schedule import NodeSlot, PoolFacts, ReplicaRequest, order_pools, schedule
from flotilla.policies.shapes import Capacity, Shape

GI = 2**30


def node(
    key: int,
    pool: int = 1,
    cpu: int = 4000,
    memory: int = 16 * GI,
    gpus: int = 0,
    ready: bool = True,
    **replicas: int,
) -> NodeSlot:
    cap = Capacity(cpu, memory, gpus, "NVIDIA-A10G" if gpus else None)
    return NodeSlot(
        key=key,
        pool=pool,
        total=cap,
        free=cap.copy(),
        ready=ready,
        replicas={int(k[1:]): v for k, v in replicas.items()},
    )


def req(
    key: int,
    deployment: int = 1,
    cpu: int = 1000,
    memory: int = GI,
    gpus: int = 0,
    pools: tuple[int, ...] = (1,),
    no_packing: bool = False,
) -> ReplicaRequest:
    return ReplicaRequest(
        key=key,
        deployment=deployment,
        need=Shape(cpu, memory, gpus, "NVIDIA-*" if gpus else None),
        pools=pools,
        disable_packing=no_packing,
    )


def test_replicas_never_overcommit_a_node() -> None:
    result = schedule([req(i, cpu=1500) for i in range(5)], [node(1), node(2)])
    per_node: dict[int, int] = {}
    for n in result.placements.values():
        per_node[n] = per_node.get(n, 0) + 1
    assert per_node == {1: 2, 2: 2}
    assert len(result.unplaced) == 1


def test_biggest_replicas_are_placed_first() -> None:
    small = [req(i, deployment=1, cpu=1000) for i in range(4)]
    big = req(99, deployment=2, cpu=4000)
    result = schedule([*small, big], [node(1), node(2)])
    assert 99 in result.placements
    assert len(result.unplaced) == 0


def test_disable_packing_puts_one_replica_of_a_deployment_per_node() -> None:
    result = schedule([req(i, no_packing=True) for i in range(3)], [node(1), node(2)])
    assert sorted(result.placements.values()) == [1, 2]
    assert len(result.unplaced) == 1


def test_a_ready_node_is_preferred_to_a_launching_one() -> None:
    result = schedule([req(1)], [node(1, ready=False), node(2, ready=True)])
    assert result.placements == {1: 2}


def test_an_empty_node_is_used_only_when_busy_ones_are_full() -> None:
    result = schedule([req(1)], [node(1), node(2, d7=1)])
    assert result.placements == {1: 2}


def test_replicas_spread_over_busy_nodes_when_that_costs_nothing() -> None:
    result = schedule([req(1), req(2)], [node(1, d9=1), node(2, d9=1)])
    assert sorted(result.placements.values()) == [1, 2]


def test_gpu_replicas_only_land_on_nodes_with_a_matching_gpu() -> None:
    result = schedule([req(1, gpus=1)], [node(1), node(2, gpus=1)])
    assert result.placements == {1: 2}


def test_replicas_spill_to_the_next_nodepool_when_the_first_is_full() -> None:
    result = schedule(
        [req(i, cpu=3000, pools=(1, 2)) for i in range(2)], [node(1, pool=1), node(2, pool=2)]
    )
    assert sorted(result.placements.values()) == [1, 2]


def test_priority_orders_nodepools_highest_first() -> None:
    pools = [
        PoolFacts(1, priority=1, position=0, price_per_replica=1, offers_spot=False, utilization=0),
        PoolFacts(2, priority=9, position=1, price_per_replica=2, offers_spot=True, utilization=0),
    ]
    assert order_pools(SchedulingChoice.PRIORITY, pools, 1) == (2, 1)
    assert order_pools(SchedulingChoice.PRICE, pools, 1) == (1, 2)
    assert order_pools(SchedulingChoice.PREFER_SPOT, pools, 1) == (2, 1)
    assert order_pools(SchedulingChoice.PREFER_ON_DEMAND, pools, 1) == (1, 2)


def test_random_order_is_stable_for_a_deployment() -> None:
    pools = [PoolFacts(k, 0, k, 1, False, 0) for k in range(6)]
    assert order_pools(SchedulingChoice.RANDOM, pools, 3) == order_pools(
        SchedulingChoice.RANDOM, pools, 3
    )
    orders = {order_pools(SchedulingChoice.RANDOM, pools, d) for d in range(10)}
    assert len(orders) > 1
