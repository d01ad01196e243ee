"""A deployment that cannot be placed says why, naming what would fix it."""

from __future__ import annotations

from flotilla.domain.specs import ComputeClusterSpec, NodepoolSpec
from flotilla.services import clusters, deployments, nodepools
from tests.controllers.conftest import World


async def test_a_nodepool_whose_provider_this_server_lacks_is_named_in_the_reason(
    world: World,
) -> None:
    async with world.ctx.db.write() as s:
        await clusters.create_cluster(
            world.ctx,
            s,
            world.caller,
            ComputeClusterSpec(id="here", cloud_provider="local", region="local"),
        )
        await nodepools.create_nodepool(
            world.ctx,
            s,
            world.caller,
            "here",
            NodepoolSpec(id="medium", instance_types=["local-medium"], max_instances=2),
        )
    await world.deploy(
        "echo",
        nodepools=[{"compute_cluster": "here", "nodepool": "medium"}],
        autoscale_config={"min_replicas": 1, "max_replicas": 1},
    )
    await world.run(30, dt=5)
    assert await world.nodes() == []  # nothing launched, and no node rows churned
    async with world.ctx.db.read() as s:
        deployment = await deployments.get_deployment(world.ctx, s, world.caller, "echo")
    assert deployment.status_reason is not None
    assert deployment.status_reason.startswith("UNSCHEDULABLE")
    assert "here/medium: this server has no 'local' provider" in deployment.status_reason
