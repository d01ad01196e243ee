"""Machines users bring (self-managed clusters): Flotilla schedules on them but never removes one."""

from __future__ import annotations

import sqlalchemy as sa

from flotilla.domain.specs import ComputeClusterSpec, NodepoolSpec
from flotilla.domain.states import ClusterType, NodeState
from flotilla.services import agents, clusters, nodepools
from flotilla.store.tables import NodeRow
from tests.controllers.conftest import World


async def join_machine(world: World) -> str:
    async with world.ctx.db.write() as s:
        await clusters.create_cluster(
            world.ctx,
            s,
            world.caller,
            ComputeClusterSpec(
                id="on-prem",
                cluster_type=ClusterType.SELF_MANAGED,
                cloud_provider="self_managed",
                region="default",
            ),
        )
        await nodepools.create_nodepool(
            world.ctx,
            s,
            world.caller,
            "on-prem",
            NodepoolSpec(id="racks", instance_types=[], min_instances=0, max_instances=2),
        )
        node, _ = await agents.join(
            world.ctx, s, world.caller, "on-prem", "racks", {"cpu": 4000, "memory": 8 << 30}, "box"
        )
        return node.id


async def beat(world: World, node_id: str) -> None:
    async with world.ctx.db.write() as s:
        row = await s.scalar(sa.select(NodeRow).where(NodeRow.id == node_id))
        assert row is not None
        await agents.heartbeat(s, row, [], world.ctx.now())


async def test_an_empty_joined_machine_is_kept_however_long_it_idles(world: World) -> None:
    node_id = await join_machine(world)
    await beat(world, node_id)
    for _ in range(120):  # 20 virtual minutes, far past every scale-down delay
        await beat(world, node_id)
        await world.run(10, dt=10)
    [node] = [n for n in await world.nodes() if n.id == node_id]
    assert node.state == NodeState.READY.value
    assert node.cordoned is False
