"""Two server processes on one PostgreSQL database never launch the same node twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from flotilla.controllers.actuator import Actuator
from flotilla.controllers.reconciler import Reconciler
from flotilla.domain.time import ManualClock
from flotilla.providers.base import TAG_NODE
from flotilla.providers.registry import ProviderRegistry
from flotilla.services.context import Context
from flotilla.store.db import Database
from tests.conftest import _truncate
from tests.controllers.conftest import make_world, sim_settings


async def test_two_servers_on_postgresql_never_launch_the_same_node_twice(
    tmp_path: Path, pg_database: str
) -> None:
    _truncate(pg_database)
    clock = ManualClock()
    settings = sim_settings(tmp_path / "home", pg_database, shared_nodepool_max_instances=6)
    world = await make_world(settings, clock, owner="server-a")
    other = Context(db=Database(pg_database), settings=settings, clock=clock)
    registry = ProviderRegistry({"sim": world.cloud})
    second = (
        Reconciler(other, "server-b", registry.names()),
        Actuator(other, registry, "server-b", installation="sim-installation"),
    )
    try:
        await world.deploy("echo", autoscale_config={"min_replicas": 6, "max_replicas": 6})
        for _ in range(120):
            clock.advance(1)
            await world.stack.agents.step()
            await asyncio.gather(world.stack.reconciler.run_once(), second[0].run_once())
            await asyncio.gather(world.stack.actuator.run_once(), second[1].run_once())
        tags = Counter(i.spec.tags[TAG_NODE] for i in world.cloud.instances.values())
        assert tags, "nodes were launched"
        assert max(tags.values()) == 1
        assert world.cloud.launch_calls == len(tags)
        assert len(tags) == 6
        assert len(await world.replicas(state="ready")) == 6
    finally:
        await other.db.dispose()
        await world.ctx.db.dispose()


async def test_only_one_server_leads_the_reconcile_pass(tmp_path: Path, pg_database: str) -> None:
    _truncate(pg_database)
    clock = ManualClock()
    world = await make_world(sim_settings(tmp_path / "home", pg_database), clock, owner="server-a")
    other = Context(db=Database(pg_database), settings=world.ctx.settings, clock=clock)
    rival = Reconciler(other, "server-b", frozenset({"sim"}))
    try:
        first = await world.stack.reconciler.run_once()
        second = await rival.run_once()
        assert first.led and not second.led
        clock.advance(world.ctx.settings.lease_seconds + 1)  # server-a stops renewing: it died
        assert (await rival.run_once()).led
    finally:
        await other.db.dispose()
        await world.ctx.db.dispose()


async def test_a_server_without_a_clusters_provider_leaves_its_nodes_to_one_that_has_it(
    tmp_path: Path, pg_database: str
) -> None:
    _truncate(pg_database)
    clock = ManualClock()
    settings = sim_settings(tmp_path / "home", pg_database)
    world = await make_world(settings, clock, owner="server-a")
    other = Context(db=Database(pg_database), settings=settings, clock=clock)
    without_sim = Actuator(other, ProviderRegistry(), "server-b", installation="sim-installation")
    try:
        await world.deploy("echo", autoscale_config={"min_replicas": 2, "max_replicas": 2})
        await world.stack.reconciler.run_once()  # nodes to launch are written
        assert await without_sim.run_once() == 0  # claims none of them: it has no sim provider
        assert world.cloud.launch_calls == 0
        for _ in range(60):
            clock.advance(1)
            await world.stack.agents.step()
            await world.stack.reconciler.run_once()
            await asyncio.gather(world.stack.actuator.run_once(), without_sim.run_once())
        assert len(await world.replicas(state="ready")) == 2
        failed = [n for n in await world.nodes() if (n.state_reason or "").startswith("PROVIDER")]
        assert failed == []
    finally:
        await other.db.dispose()
        await world.ctx.db.dispose()
