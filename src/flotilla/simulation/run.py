"""Run a traffic trace through the real server-side stack in virtual time, and account for it.

The harness owns a fresh SQLite database, a simulated cloud with simulated agents, and the data
plane model. Each step it routes the step's requests, reports the gateway's samples, and lets
the controllers run one pass — with Flotilla's autoscaler, or a baseline plugged in its place.
It records every request's outcome, the nodes and replicas over time, and what the nodes cost.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from flotilla.controllers.decide import Autoscaler
from flotilla.controllers.reconciler import Reconciler, decide_config
from flotilla.domain.specs import (
    ComputeClusterSpec,
    DeploymentSpec,
    ModelSpec,
    NodepoolSpec,
    Resources,
)
from flotilla.domain.states import NODE_GONE_STATES, CapacityType
from flotilla.domain.time import ManualClock
from flotilla.policies.autoscale import decide_replicas
from flotilla.providers.registry import ProviderRegistry
from flotilla.providers.sim import SimAgents, SimCloud, SimConfig
from flotilla.services import clusters, deployments, models, nodepools, tokens, traffic
from flotilla.services.bootstrap import bootstrap
from flotilla.services.context import Caller, Context
from flotilla.settings import Settings
from flotilla.simulation.dataplane import DataPlane, ModelProfile, Outcomes
from flotilla.simulation.stack import Stack
from flotilla.simulation.traces import Trace
from flotilla.store.db import Database
from flotilla.store.migrate import alembic_config
from flotilla.store.tables import DeploymentRow, ModelVersionRow, NodeRow, UsageRecordRow

START = datetime(2026, 3, 2, tzinfo=UTC)


@dataclass(frozen=True)
class Setup:
    """How a trace is served: the nodepool, the model, the autoscaling, the policy."""

    instance_types: tuple[str, ...] = ("sim-cpu-medium",)
    capacity_types: tuple[CapacityType, ...] = (CapacityType.SPOT, CapacityType.ON_DEMAND)
    max_instances: int = 20
    min_instances: int = 0
    replica_cpu: str = "1"
    replica_memory: str = "2Gi"
    profile: ModelProfile = field(default_factory=ModelProfile)
    load_seconds: float = 20.0
    autoscale: dict[str, Any] = field(default_factory=lambda: {"max_replicas": 40})
    autoscaler: Autoscaler = decide_replicas
    burst_seconds: float = 10.0
    dt: float = 5.0
    node_empty_seconds: float = 300.0
    seed: int = 1


@dataclass
class RunResult:
    trace: str
    policy: str
    cost: float
    outcomes: Outcomes
    timeline: list[tuple[float, int, int, float]]
    """(t, live nodes, ready replicas, requests in flight)."""
    wall_seconds: float
    passes: int
    node_hours: dict[str, float] = field(default_factory=dict)
    """By capacity type."""

    @property
    def slo_attainment(self) -> float:
        return self.outcomes.slo_attainment


def _settings(home: Path, url: str, setup: Setup) -> Settings:
    return Settings(
        home=home,
        database_url=url,
        run_migrations=False,
        shared_cluster_provider="sim",
        shared_cluster_region="sim-east",
        shared_nodepool_instance_types=["sim-cpu-small"],
        providers=["sim"],
        node_empty_seconds=setup.node_empty_seconds,
        burst_window_seconds=setup.burst_seconds,
    )


async def _admin(ctx: Context) -> Caller:
    done = await bootstrap(ctx)
    assert done.admin_token is not None
    async with ctx.db.read() as s:
        caller, _ = await tokens.authenticate(s, done.admin_token, ctx.now())
    return caller


async def _create(ctx: Context, caller: Caller, trace: Trace, setup: Setup) -> dict[str, int]:
    """The cluster, nodepool, model (a version row without a package) and one deployment per stream."""
    async with ctx.db.write() as s:
        await clusters.create_cluster(
            ctx, s, caller, ComputeClusterSpec(id="sim", cloud_provider="sim", region="sim-east")
        )
        await nodepools.create_nodepool(
            ctx,
            s,
            caller,
            "sim",
            NodepoolSpec(
                id="pool",
                instance_types=list(setup.instance_types),
                capacity_types=list(setup.capacity_types),
                min_instances=setup.min_instances,
                max_instances=setup.max_instances,
            ),
        )
        await models.create_model(ctx, s, caller, ModelSpec(id="model"))
        model_pk = await s.scalar(sa.text("SELECT pk FROM models WHERE id = 'model'"))
        resources = Resources(cpu=setup.replica_cpu, memory=setup.replica_memory)
        s.add(
            ModelVersionRow(
                id="v1",
                model_pk=model_pk,
                digest="sha256:" + "0" * 64,
                size_bytes=0,
                entrypoint="model.py:Model",
                resources=resources.model_dump(mode="json"),
                created_at=ctx.now(),
            )
        )
        await s.flush()
        for name in trace.arrivals:
            spec = DeploymentSpec(
                id=name,
                model="model",
                nodepools=[{"compute_cluster": "sim", "nodepool": "pool"}],
                autoscale_config=setup.autoscale,
            )
            await deployments.create_deployment(ctx, s, caller, spec)
        rows = await s.execute(sa.select(DeploymentRow.id, DeploymentRow.pk))
        return dict(rows.all())


async def _cost(ctx: Context, end: datetime) -> tuple[float, dict[str, float]]:
    """Usage records plus the nodes still running at the end."""
    hours: dict[str, float] = {}
    async with ctx.db.read() as s:
        total = 0.0
        for cap, seconds, cost in (
            await s.execute(
                sa.select(UsageRecordRow.capacity_type, UsageRecordRow.seconds, UsageRecordRow.cost)
            )
        ).all():
            total += cost
            hours[cap] = hours.get(cap, 0.0) + seconds / 3600
        running = await s.execute(
            sa.select(NodeRow.capacity_type, NodeRow.launched_at, NodeRow.price_per_hour).where(
                NodeRow.state.not_in([st.value for st in NODE_GONE_STATES]),
                NodeRow.launched_at.is_not(None),
            )
        )
        for cap, launched, price in running.all():
            if launched is None:
                continue
            seconds = (end - launched).total_seconds()

            total += seconds / 3600 * price
            hours[cap] = hours.get(cap, 0.0) + seconds / 3600
    return total, hours


class Simulation:
    """A trace being served: step it, script events between steps, read the outcomes."""

    def __init__(self, trace: Trace, setup: Setup, folder: Path) -> None:
        self.trace = trace
        self.setup = setup
        self.folder = folder
        self.clock = ManualClock(START)
        url = f"sqlite:///{folder / 'sim.db'}"
        command.upgrade(alembic_config(url), "head")
        settings = _settings(
            folder / "home", url.replace("sqlite://", "sqlite+aiosqlite://"), setup
        )
        self.ctx = Context(
            db=Database(settings.sqlalchemy_url, inline=True), settings=settings, clock=self.clock
        )
        self.cloud = SimCloud(
            self.clock,
            self.ctx.catalog,
            SimConfig(seed=setup.seed, interruption_rate=self._interruption_rate),
        )
        self.plane = DataPlane({name: setup.profile for name in trace.arrivals}, seed=setup.seed)
        self.agents = SimAgents(
            self.ctx,
            self.cloud,
            load_seconds=lambda _: setup.load_seconds,
            in_flight=lambda rid: self.plane.in_flight(rid, self.t),
        )
        registry = ProviderRegistry({self.cloud.name: self.cloud})
        self.stack = Stack.build(self.ctx, self.clock, self.cloud, self.agents)
        self.stack.reconciler = Reconciler(
            self.ctx,
            "sim-server",
            registry.names(),
            decide_config(self.ctx, registry.names(), autoscaler=setup.autoscaler),
        )
        self.t = 0.0
        self.pks: dict[str, int] = {}
        self.cursors = dict.fromkeys(trace.arrivals, 0)
        self.timeline: list[tuple[float, int, int, float]] = []

    def _interruption_rate(self, now: datetime) -> float:
        t = (now - START).total_seconds()
        storm = self.trace.storm
        if storm is not None:
            return 6.0 if storm[0] <= t < storm[1] else 0.1
        return self.trace.spot_interruptions_per_hour

    async def start(self) -> None:
        caller = await _admin(self.ctx)
        self.pks = await _create(self.ctx, caller, self.trace, self.setup)

    def _samples(self, end: float) -> tuple[list[traffic.Sample], float]:
        samples, in_flight_total = [], 0.0
        for name, times in self.trace.arrivals.items():
            i = j = self.cursors[name]
            while j < len(times) and times[j] < end:
                j += 1
            self.plane.offer(name, times[i:j])
            self.cursors[name] = j
            avg, arrivals, held, last = self.plane.sample(name, self.t, end)
            in_flight_total += avg
            if arrivals or avg or held or last is not None:
                samples.append(
                    traffic.Sample(
                        deployment_pk=self.pks[name],
                        start_s=(START + timedelta(seconds=self.t)).timestamp(),
                        end_s=(START + timedelta(seconds=end)).timestamp(),
                        in_flight=avg,
                        arrivals=arrivals,
                        held=held,
                        last_request_at=START + timedelta(seconds=last)
                        if last is not None and last >= self.t
                        else None,
                    )
                )
        return samples, in_flight_total

    async def step(self) -> None:
        """Serve one step's requests, report them, and let the controllers act."""
        end = min(self.t + self.setup.dt, self.trace.duration)
        samples, in_flight_total = self._samples(end)
        async with self.ctx.db.write() as s:
            await traffic.record(s, "sim-gateway", samples)
        await self.stack.step(end - self.t)
        self.t = end
        for replica in self.agents.take_lost():
            self.plane.kill(replica, self.t)
        routable = self.agents.routable()
        for name in self.trace.arrivals:
            self.plane.set_routable(name, routable.get(name, set()), self.t)
        ready = sum(len(r) for r in routable.values())
        self.timeline.append((self.t, len(self.cloud.alive()), ready, in_flight_total))

    def outcomes(self) -> Outcomes:
        merged = Outcomes()
        for name in self.trace.arrivals:
            o = self.plane.outcomes(name)
            merged.total += o.total
            merged.within_slo += o.within_slo
            merged.dropped += o.dropped
            merged.failed += o.failed
            merged.cold += o.cold
        return merged

    async def close(self) -> None:
        await self.ctx.db.dispose()


async def simulate(
    trace: Trace,
    setup: Setup,
    policy: str = "flotilla",
    *,
    progress: Callable[[float], None] | None = None,
    workdir: Path | None = None,
) -> RunResult:
    """Serve a whole trace; the result holds the outcomes, the cost and the timeline."""
    started = time.perf_counter()
    folder = Path(workdir or tempfile.mkdtemp(prefix="flotilla-sim-"))
    sim = Simulation(trace, setup, folder)
    try:
        await sim.start()
        while sim.t < trace.duration:
            await sim.step()
            if progress is not None:
                progress(sim.t / trace.duration)
        sim.plane.finish(trace.duration)
        cost, hours = await _cost(sim.ctx, sim.clock.now())
        return RunResult(
            trace=trace.name,
            policy=policy,
            cost=cost,
            outcomes=sim.outcomes(),
            timeline=sim.timeline,
            wall_seconds=time.perf_counter() - started,
            passes=sim.stack.passes,
            node_hours=hours,
        )
    finally:
        await sim.close()
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
