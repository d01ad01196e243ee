"""Spot first, on-demand when spot is short (in the same pass), and back to spot when it returns."""

from __future__ import annotations

from flotilla.domain.states import CapacityType, NodeState, ReplicaState
from tests.controllers.conftest import World

SPOT, OD = CapacityType.SPOT, CapacityType.ON_DEMAND


async def _spot_pool(world: World, **fields: object) -> None:
    await world.cluster(
        "sim-east",
        id="pool",
        instance_types=["sim-cpu-small"],
        capacity_types=["spot", "on_demand"],
        max_instances=3,
        **fields,
    )
    await world.deploy(
        "echo",
        nodepools=[{"compute_cluster": "sim-east", "nodepool": "pool"}],
        autoscale_config={"min_replicas": 1, "max_replicas": 3},
    )


async def test_spot_shortage_falls_back_to_on_demand_in_the_same_pass(world: World) -> None:
    world.cloud.set_capacity("sim-east", "sim-cpu-small", SPOT, 0)
    await _spot_pool(world)
    await world.run(1)
    nodes = await world.nodes()
    assert len(nodes) == 1
    assert nodes[0].capacity_type == OD.value
    assert nodes[0].state == NodeState.REGISTERING.value
    assert world.cloud.launch_calls == 1  # spot was refused, on-demand launched, one pass
    assert nodes[0].price_per_hour > 0.05  # on-demand price, not spot


async def test_on_demand_nodes_are_replaced_by_spot_when_spot_returns(world: World) -> None:
    world.ctx.settings.shortage_seconds = 120
    world.cloud.set_capacity("sim-east", "sim-cpu-small", SPOT, 0)
    await _spot_pool(world)
    await world.until(lambda: _ready(world), limit=200)
    world.cloud.set_capacity("sim-east", "sim-cpu-small", SPOT, None)

    async def only_spot_serves() -> bool:
        live = await world.nodes(
            NodeState.READY.value, NodeState.DRAINING.value, NodeState.REGISTERING.value
        )
        return (
            bool(live) and all(n.capacity_type == SPOT.value for n in live) and await _ready(world)
        )

    await world.until(only_spot_serves, limit=600, dt=2)
    terminated = await world.nodes(NodeState.TERMINATED.value)
    assert [n.capacity_type for n in terminated] == [OD.value]


async def _ready(world: World) -> bool:
    return bool(await world.replicas(state=ReplicaState.READY.value))


async def test_no_capacity_anywhere_shows_on_the_nodepool_and_spills_nothing(world: World) -> None:
    world.cloud.set_capacity("sim-east", "sim-cpu-small", SPOT, 0)
    world.cloud.set_capacity("sim-east", "sim-cpu-small", OD, 0)
    await _spot_pool(world)
    await world.run(2)
    async with world.ctx.db.read() as s:
        from flotilla.services import nodepools

        pool = await nodepools.get_nodepool(world.ctx, s, world.caller, "sim-east", "pool")
    assert pool.status.value == "error"
    assert pool.status_reason is not None and pool.status_reason.startswith("NO_CAPACITY")
