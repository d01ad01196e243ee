"""Scenarios on the simulated cloud, in virtual time, through the real controllers."""

from __future__ import annotations

from flotilla.domain.states import NodeState, ReplicaState
from tests.controllers.conftest import World


async def test_first_request_scales_from_zero(world: World) -> None:
    await world.deploy("echo", autoscale_config={"min_replicas": 0, "max_replicas": 3})
    await world.run(5)
    assert await world.replicas() == []
    assert await world.nodes() == []

    await world.send("echo", in_flight=1, held=1)

    async def serving() -> bool:
        return bool(await world.replicas(state=ReplicaState.READY.value))

    waited = await world.until(serving, limit=300, deployment="echo", in_flight=1)
    nodes = await world.nodes(NodeState.READY.value)
    assert len(nodes) == 1
    assert waited <= 60 * 1.1 + 10 + 10  # node launch (±10%) + model load + a few passes


async def test_a_burst_scales_up_within_seconds(world: World) -> None:
    await world.deploy("echo", autoscale_config={"min_replicas": 1, "max_replicas": 4})
    await world.until(lambda: _ready(world, 1), limit=200)
    started = world.ctx.now()
    await world.run(3, deployment="echo", in_flight=14)  # 14 in flight: 4 replicas at 4 each
    wanted = len([r for r in await world.replicas() if r.state not in ("stopped", "failed")])
    assert wanted == 4
    assert (world.ctx.now() - started).total_seconds() <= 3


async def _ready(world: World, n: int) -> bool:
    return len(await world.replicas(state=ReplicaState.READY.value)) >= n


async def _live(world: World) -> int:
    return len([r for r in await world.replicas() if r.state not in ("stopped", "failed")])


async def test_scale_down_happens_only_after_its_delay(world: World) -> None:
    await world.deploy(
        "echo",
        autoscale_config={
            "min_replicas": 0,
            "max_replicas": 4,
            "traffic_history_seconds": 30,
            "scale_down_delay_seconds": 120,
            "scale_to_zero_delay_seconds": 3600,
        },
    )
    await world.run(90, deployment="echo", in_flight=12)
    assert await _live(world) == 3
    quiet_from = world.ctx.now()
    await world.run(100, deployment="echo", in_flight=3, dt=5)
    assert await _live(world) == 3  # still within the 120 s delay
    await world.until(lambda: _count(world, 1), limit=120, dt=5, deployment="echo", in_flight=3)
    assert (world.ctx.now() - quiet_from).total_seconds() >= 120


async def _count(world: World, n: int) -> bool:
    return await _live(world) == n


async def test_scale_to_zero_only_after_its_delay_and_then_nodes_go(world: World) -> None:
    await world.deploy(
        "echo",
        autoscale_config={
            "min_replicas": 0,
            "max_replicas": 2,
            "traffic_history_seconds": 30,
            "scale_down_delay_seconds": 60,
            "scale_to_zero_delay_seconds": 600,
        },
    )
    await world.run(100, deployment="echo", in_flight=2)
    last_request = world.ctx.now()
    await world.run(590, dt=10)
    assert await _live(world) == 1
    await world.until(lambda: _count(world, 0), limit=60, dt=5)
    assert (world.ctx.now() - last_request).total_seconds() >= 600
    await world.run(120, dt=10)  # the empty node goes after node_empty/scale-down delay
    assert await world.nodes(NodeState.READY.value) == []


async def test_max_replicas_and_max_instances_are_respected(world: World) -> None:
    await world.deploy("echo", autoscale_config={"min_replicas": 0, "max_replicas": 10})
    await world.run(200, deployment="echo", in_flight=400, dt=2)
    live_nodes = await world.nodes(
        NodeState.LAUNCHING.value, NodeState.REGISTERING.value, NodeState.READY.value
    )
    assert len(live_nodes) == 4  # the shared default nodepool's max_instances
    assert await _live(world) == 10
    assert (
        len(await world.replicas(state=ReplicaState.READY.value)) == 4
    )  # one 1-CPU replica per small node
    assert len(await world.replicas(state=ReplicaState.PENDING.value)) == 6
