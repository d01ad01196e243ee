"""Revoked tokens, crashes mid-launch, lost nodes, finished deletes and what nodes cost."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from flotilla.controllers.actuator import Actuator
from flotilla.domain.specs import TokenSpec
from flotilla.domain.states import NodeState, ReplicaState
from flotilla.providers.base import TAG_NODE
from flotilla.providers.registry import ProviderRegistry
from flotilla.providers.sim import SimulatedCrash
from flotilla.services import clusters, deployments, nodepools, tokens, users
from flotilla.store.tables import ClusterRow, DeploymentRow, NodepoolRow, NodeRow, UsageRecordRow
from tests.controllers.conftest import World

LIVE = (
    NodeState.LAUNCHING.value,
    NodeState.REGISTERING.value,
    NodeState.READY.value,
    NodeState.DRAINING.value,
)


async def _serving(world: World) -> bool:
    return bool(await world.replicas(state=ReplicaState.READY.value))


async def _dedicated(world: World) -> None:
    await world.cluster("sim-east", id="pool", instance_types=["sim-cpu-small"], max_instances=3)
    await world.deploy(
        "echo",
        nodepools=[{"compute_cluster": "sim-east", "nodepool": "pool"}],
        autoscale_config={"min_replicas": 2, "max_replicas": 3},
    )
    await world.until(lambda: _count_ready(world, 2), limit=300)


async def _count_ready(world: World, n: int) -> bool:
    return len(await world.replicas(state=ReplicaState.READY.value)) >= n


async def test_a_revoked_token_leaves_no_node_running_and_a_new_token_restores(
    world: World,
) -> None:
    await _dedicated(world)
    async with world.ctx.db.write() as s:
        await tokens.revoke_token(world.ctx, s, world.caller, "admin")
    await world.run(30)
    assert world.cloud.alive() == []
    assert await world.nodes(*LIVE) == []
    async with world.ctx.db.read() as s:
        pool = await nodepools.get_nodepool(world.ctx, s, world.caller, "sim-east", "pool")
        deployment = await deployments.get_deployment(world.ctx, s, world.caller, "echo")
    assert pool.status.value == "error"
    assert pool.status_reason is not None and pool.status_reason.startswith("TOKEN_REVOKED")
    assert deployment.status_reason is not None and deployment.status_reason.startswith(
        "TOKEN_REVOKED"
    )

    async with world.ctx.db.write() as s:
        admin = await users.get_user_row(s, "admin")
        await tokens.create_token(world.ctx, s, admin, TokenSpec(id="second"), granted_by=None)
        await clusters.update_cluster(
            world.ctx, s, world.caller, "sim-east", {"token_id": "second"}
        )
    await world.until(lambda: _count_ready(world, 2), limit=300)


async def test_a_crash_between_launch_and_commit_leaves_no_orphan_and_no_duplicate(
    world: World,
) -> None:
    await world.cluster("sim-east", id="pool", instance_types=["sim-cpu-small"], max_instances=3)
    world.cloud.crash_after_next_launch = True
    await world.deploy(
        "echo",
        nodepools=[{"compute_cluster": "sim-east", "nodepool": "pool"}],
        autoscale_config={"min_replicas": 1, "max_replicas": 1},
    )
    with contextlib.suppress(SimulatedCrash):  # the "process" dies after the provider call
        await world.stack.pass_once()
    assert len(world.cloud.alive()) == 1
    [node] = await world.nodes()
    assert node.provider_instance_id is None and node.launch_attempted_at is not None

    # A new server process, after the dead one's lease has lapsed.
    world.stack.clock.advance(world.ctx.settings.lease_seconds + 1)
    fresh = Actuator(
        world.ctx,
        ProviderRegistry({"sim": world.cloud}),
        "second-server",
        installation="sim-installation",
    )
    world.stack.actuator = fresh
    await world.until(lambda: _serving(world), limit=300)
    await world.run(5)
    alive = world.cloud.alive()

    assert len(alive) == 1
    assert world.cloud.launch_calls == 1
    [node] = await world.nodes()
    assert node.provider_instance_id == alive[0].instance_id
    assert alive[0].spec.tags[TAG_NODE] == node.id
    assert await fresh.sweep_orphans() == 0


async def test_orphan_instances_unknown_to_the_database_are_terminated(world: World) -> None:
    from flotilla.domain.states import CapacityType
    from flotilla.providers.base import TAG_INSTALLATION, LaunchSpec

    spec = LaunchSpec(
        "ghost",
        "sim-east",
        "sim-cpu-small",
        CapacityType.ON_DEMAND,
        {TAG_NODE: "ghost", TAG_INSTALLATION: "sim-installation"},
    )
    await world.cloud.launch(spec)
    other = LaunchSpec(
        "theirs",
        "sim-east",
        "sim-cpu-small",
        CapacityType.ON_DEMAND,
        {TAG_NODE: "theirs", TAG_INSTALLATION: "another"},
    )
    await world.cloud.launch(other)
    assert await world.stack.actuator.sweep_orphans() == 1
    assert [i.spec.node_id for i in world.cloud.alive()] == ["theirs"]


async def test_a_node_whose_heartbeats_stop_is_lost_replaced_and_its_replicas_rescheduled(
    world: World,
) -> None:
    await _dedicated(world)
    [victim, *_] = await world.nodes(NodeState.READY.value)
    world.cloud.kill(victim.provider_instance_id or "", "the host failed")
    world.cloud._events.clear()  # the provider never tells: only the silence does
    await world.run(world.ctx.settings.node_lost_seconds + 10)
    async with world.ctx.db.read() as s:
        state = await s.scalar(sa.select(NodeRow.state).where(NodeRow.pk == victim.pk))
    assert state == NodeState.LOST.value
    await world.until(lambda: _count_ready(world, 2), limit=300)
    failed = await world.replicas(state=ReplicaState.FAILED.value)
    assert {r.node_pk for r in failed} == {victim.pk}


async def test_deletes_finish_replicas_drain_nodes_terminate_rows_go(world: World) -> None:
    await _dedicated(world)
    async with world.ctx.db.write() as s:
        result = await clusters.delete_cluster(world.ctx, s, world.caller, "sim-east", cascade=True)
    assert result.status == "deleting"
    await world.run(60)
    assert world.cloud.alive() == []
    async with world.ctx.db.read() as s:
        assert (
            await s.scalar(
                sa.select(sa.func.count())
                .select_from(ClusterRow)
                .where(ClusterRow.id == "sim-east")
            )
            == 0
        )
        assert (
            await s.scalar(
                sa.select(sa.func.count()).select_from(NodepoolRow).where(NodepoolRow.id == "pool")
            )
            == 0
        )
        assert (
            await s.scalar(
                sa.select(sa.func.count())
                .select_from(DeploymentRow)
                .where(DeploymentRow.id == "echo")
            )
            == 0
        )
        records = (
            await s.scalars(
                sa.select(UsageRecordRow).where(UsageRecordRow.compute_cluster == "sim-east")
            )
        ).all()
    assert len(records) == 2
    for record in records:
        assert record.cost == record.seconds / 3600 * record.price_per_hour
        assert record.seconds > 0


async def test_usage_prices_node_seconds_by_capacity_type_and_shares_them_by_deployment(
    world: World,
) -> None:
    from datetime import timedelta

    from flotilla.services import usage

    start = world.ctx.now()
    await _dedicated(world)
    await world.run(3600, dt=60)
    async with world.ctx.db.read() as s:
        by_pool = await usage.usage(
            world.ctx, s, world.caller, usage.GroupBy.NODEPOOL, start, world.ctx.now()
        )
        by_deployment = await usage.usage(
            world.ctx, s, world.caller, usage.GroupBy.DEPLOYMENT, start, world.ctx.now()
        )
        first_hour = await usage.usage(
            world.ctx, s, world.caller, usage.GroupBy.NODEPOOL, start, start + timedelta(minutes=30)
        )
    [row] = by_pool.rows
    assert row.key == "sim-east/pool"
    price = world.ctx.catalog.instance_type("sim", "sim-east", "sim-cpu-small")
    assert price is not None
    assert 1.9 < row.node_hours < 2.1  # two nodes for about an hour
    assert abs(row.cost - row.node_hours * price.price_per_hour.on_demand) < 1e-6
    assert first_hour.rows[0].node_hours < row.node_hours / 1.9
    shares = {r.key: r for r in by_deployment.rows}
    assert set(shares) == {"echo", "(idle)"}
    assert abs(shares["echo"].cost + shares["(idle)"].cost - row.cost) < 1e-5  # rows round to 1e-6
    assert shares["echo"].cost > 0
