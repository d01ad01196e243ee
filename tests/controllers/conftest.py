"""A server-side stack on the simulated cloud, with a user, a model and helpers to send traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flotilla.domain.specs import ComputeClusterSpec, DeploymentSpec, NodepoolSpec
from flotilla.domain.time import ManualClock
from flotilla.providers.sim import SimAgents, SimCloud, SimConfig
from flotilla.services import clusters, deployments, models, nodepools, tokens, traffic
from flotilla.services.bootstrap import bootstrap
from flotilla.services.context import Caller, Context
from flotilla.services.packages import unpack_package
from flotilla.settings import Settings
from flotilla.simulation.stack import Stack
from flotilla.store.db import Database
from flotilla.store.tables import DeploymentRow, NodeRow, ReplicaRow, UserRow
from tests.factories import echo_package


def sim_settings(home: Path, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "database_url": url,
        "run_migrations": False,
        "shared_cluster_provider": "sim",
        "shared_cluster_region": "sim-east",
        "shared_nodepool_instance_types": ["sim-cpu-small"],
        "shared_nodepool_max_instances": 4,
        "providers": ["sim"],
        "node_empty_seconds": 60,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class World:
    """A stack plus the admin acting through the services."""

    stack: Stack
    caller: Caller

    @property
    def ctx(self) -> Context:
        return self.stack.ctx

    @property
    def cloud(self) -> SimCloud:
        return self.stack.cloud

    async def deploy(self, deployment_id: str = "echo", **fields: Any) -> None:
        spec = DeploymentSpec(id=deployment_id, model="echo", **fields)
        async with self.ctx.db.write() as s:
            await deployments.create_deployment(self.ctx, s, self.caller, spec)

    async def cluster(self, cluster_id: str = "sim-east", **pool: Any) -> None:
        async with self.ctx.db.write() as s:
            await clusters.create_cluster(
                self.ctx,
                s,
                self.caller,
                ComputeClusterSpec(id=cluster_id, cloud_provider="sim", region="sim-east"),
            )
            await nodepools.create_nodepool(
                self.ctx, s, self.caller, cluster_id, NodepoolSpec(**pool)
            )

    async def send(
        self, deployment_id: str, in_flight: float, held: int = 0, seconds: float = 1.0
    ) -> None:
        """What a gateway reports for the last ``seconds``."""
        now = self.ctx.now()
        async with self.ctx.db.write() as s:
            pk = await s.scalar(
                sa.select(DeploymentRow.pk).where(DeploymentRow.id == deployment_id)
            )
            assert pk is not None
            sample = traffic.Sample(
                deployment_pk=pk,
                start_s=now.timestamp() - seconds,
                end_s=now.timestamp(),
                in_flight=in_flight,
                arrivals=max(int(in_flight * seconds), 1 if in_flight or held else 0),
                held=held,
                last_request_at=now if (in_flight or held) else None,
            )
            await traffic.record(s, "test-gateway", [sample])

    async def run(
        self,
        seconds: float,
        *,
        deployment: str | None = None,
        in_flight: float = 0.0,
        dt: float = 1.0,
    ) -> None:
        for _ in range(round(seconds / dt)):
            if deployment is not None:
                await self.send(deployment, in_flight, seconds=dt)
            await self.stack.step(dt)

    async def replicas(
        self, deployment_id: str = "echo", state: str | None = None
    ) -> list[ReplicaRow]:
        async with self.ctx.db.read() as s:
            stmt = (
                sa.select(ReplicaRow)
                .join(DeploymentRow, DeploymentRow.pk == ReplicaRow.deployment_pk)
                .where(DeploymentRow.id == deployment_id)
            )
            if state is not None:
                stmt = stmt.where(ReplicaRow.state == state)
            return list((await s.scalars(stmt)).all())

    async def nodes(self, *states: str) -> list[NodeRow]:
        async with self.ctx.db.read() as s:
            stmt = sa.select(NodeRow).order_by(NodeRow.pk)
            if states:
                stmt = stmt.where(NodeRow.state.in_(states))
            return list((await s.scalars(stmt)).all())

    async def until(
        self, predicate: Any, limit: float = 600.0, dt: float = 1.0, **traffic_args: Any
    ) -> float:
        """Step until ``await predicate()`` is true; returns the virtual seconds it took."""
        waited = 0.0
        while not await predicate():
            if waited >= limit:
                raise AssertionError(f"not reached within {limit}s of virtual time")
            await self.run(dt, dt=dt, **traffic_args)
            waited += dt
        return waited


async def make_world(
    settings: Settings,
    clock: ManualClock,
    config: SimConfig | None = None,
    owner: str = "sim-server",
    db: Database | None = None,
) -> World:
    ctx = Context(db=db or Database(settings.sqlalchemy_url), settings=settings, clock=clock)
    done = await bootstrap(ctx)
    cloud = SimCloud(clock, ctx.catalog, config or SimConfig(seed=1))
    stack = Stack.build(
        ctx, clock, cloud, SimAgents(ctx, cloud, load_seconds=lambda _: 10.0), owner=owner
    )
    async with ctx.db.write() as s:
        admin = await s.scalar(sa.select(UserRow).where(UserRow.id == "admin"))
        assert admin is not None and done.admin_token is not None
        caller, _ = await tokens.authenticate(s, done.admin_token, clock.now())
        package = unpack_package(
            _archive(settings, echo_package("echo", cpu="1", memory="512Mi")),
            settings,
            model_id="echo",
        )
        await models.add_version(ctx, s, caller, "echo", package)
    return World(stack=stack, caller=caller)


def _archive(settings: Settings, data: bytes) -> Path:
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / "echo.tar.gz"
    path.write_bytes(data)
    return path


@pytest.fixture
async def world(tmp_path: Path, sqlite_url: str, clock: ManualClock) -> AsyncIterator[World]:
    w = await make_world(sim_settings(tmp_path / "home", sqlite_url), clock)
    yield w
    await w.ctx.db.dispose()
