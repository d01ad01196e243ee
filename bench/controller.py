"""Controller benchmark (DESIGN §9, row 2): one reconcile pass over 10,000 nodes and 50,000
replicas in ≤ 2 s, and the scheduler at ≥ 10,000 placements/s.

    python bench/controller.py                    # SQLite and PostgreSQL (if it answers)
    python bench/controller.py --db sqlite        # SQLite only
    python bench/controller.py --profile          # also print where a pass spends its time

The pass: a fresh, migrated database is filled with bulk inserts — one sim cluster, 40 nodepools
of sim-cpu-xlarge, 400 deployments of one model, 10,000 ready nodes (250 per nodepool) and
50,000 ready replicas (125 per deployment, 5 per node), and one traffic sample per deployment —
then ``Reconciler.run_once`` runs, as the server's leader does every 2 s:

- ``first``: the first pass over these rows (every deployment gets its autoscaler state written);
- ``steady``: nothing to change (the common case), three times, the median reported;
- ``scale-up``: every deployment wants 5 more replicas: 2,000 replicas created and placed.

``read``/``decide``/``write`` come from ``PassResult``. The scheduler: ``policies.schedule`` places
20,000 pending replicas of 200 deployments (four shapes) over 5,000 nodes in 25 nodepools, some
already half full; best of three.

Prints a table and writes JSON (default bench/results/controller.json). Exit status: 0 done, 1 a
budget was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from flotilla.catalog import shipped_catalog
from flotilla.controllers import snapshot as snapshots
from flotilla.controllers.reconciler import PassResult, Reconciler
from flotilla.domain.specs import AutoscaleConfig, Resources
from flotilla.domain.time import ManualClock
from flotilla.policies.schedule import NodeSlot, ReplicaRequest, schedule
from flotilla.policies.shapes import Capacity, Shape
from flotilla.services.bootstrap import bootstrap
from flotilla.services.context import Context
from flotilla.settings import Settings
from flotilla.store.db import Database
from flotilla.store.migrate import alembic_config
from flotilla.store.tables import (
    ClusterRow,
    DeploymentNodepoolRow,
    DeploymentRow,
    ModelRow,
    ModelVersionRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
    TokenRow,
    TrafficSampleRow,
    UserRow,
)

RESULTS = Path(__file__).parent / "results"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASS_BUDGET_SECONDS = 2.0
PLACEMENTS_BUDGET = 10_000

NODES = 10_000
REPLICAS = 50_000
POOLS = 40
DEPLOYMENTS = 400
INSTANCE_TYPE = "sim-cpu-xlarge"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Timed:
    result: PassResult
    wall_seconds: float
    cpu_seconds: float
    """CPU time of this process (all its threads) during the pass: on a shared machine, the
    steadier figure. PostgreSQL's own work is in its server processes, not counted here."""


async def timed(reconciler: Reconciler) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await reconciler.run_once()
    return Timed(result, time.perf_counter() - wall, time.process_time() - cpu)


@dataclass(frozen=True)
class Passes:
    db: str
    seed_seconds: float
    first: Timed
    steady: list[Timed]
    scale_up: Timed
    created: int
    profile: str | None
    """cProfile of the scale-up pass (its decide part: read and write run in a worker thread)."""
    read_profile: str | None
    """cProfile of one snapshot read, in the thread that does it."""


# ---------------------------------------------------------------------------- seeding


def _config(min_replicas: int) -> dict[str, Any]:
    return AutoscaleConfig(
        min_replicas=min_replicas, max_replicas=1000, target_concurrency=4.0
    ).model_dump(mode="json")


def seed(sync_url: str) -> None:
    """The rows of a big installation, inserted in bulk (no services, no events)."""
    engine = sa.create_engine(sync_url)
    t = NOW - timedelta(hours=1)
    stamps = {"created_at": t, "modified_at": t}
    catalog = shipped_catalog()
    price = catalog.instance_type("sim", "sim-east", INSTANCE_TYPE)
    assert price is not None
    try:
        with engine.begin() as c:
            admin = c.scalar(sa.select(UserRow.pk).where(UserRow.is_admin.is_(True)))
            token = c.scalar(sa.select(TokenRow.pk).where(TokenRow.user_pk == admin))
            cluster = c.execute(
                sa.insert(ClusterRow).returning(ClusterRow.pk),
                {
                    "id": "bench",
                    "owner_pk": admin,
                    "cluster_type": "dedicated",
                    "cloud_provider": "sim",
                    "region": "sim-east",
                    "token_pk": token,
                    "managed_by": "flotilla",
                    **stamps,
                },
            ).scalar_one()
            c.execute(
                sa.insert(NodepoolRow),
                [
                    {
                        "id": f"pool-{p:02d}",
                        "cluster_pk": cluster,
                        "instance_types": [INSTANCE_TYPE],
                        "min_instances": 0,
                        "max_instances": 1000,
                        "capacity_types": ["spot", "on_demand"],
                        **stamps,
                    }
                    for p in range(POOLS)
                ],
            )
            pools = list(c.scalars(sa.select(NodepoolRow.pk).order_by(NodepoolRow.pk)))
            pools = pools[-POOLS:]  # after the shared cluster's nodepool
            model = c.execute(
                sa.insert(ModelRow).returning(ModelRow.pk),
                {"id": "bench-model", "owner_pk": admin, **stamps},
            ).scalar_one()
            version = c.execute(
                sa.insert(ModelVersionRow).returning(ModelVersionRow.pk),
                {
                    "id": "v1",
                    "model_pk": model,
                    "digest": "sha256:" + "0" * 64,
                    "size_bytes": 0,
                    "entrypoint": "model.py:Model",
                    "resources": Resources(cpu="1", memory="2Gi").model_dump(mode="json"),
                    "created_at": t,
                },
            ).scalar_one()
            per_dep = REPLICAS // DEPLOYMENTS
            c.execute(
                sa.insert(DeploymentRow),
                [
                    {
                        "id": f"dep-{d:03d}",
                        "owner_pk": admin,
                        "model_pk": model,
                        "model_version": "v1",
                        "scheduling_choice": "priority",
                        "autoscale_config": _config(per_dep),
                        "desired_replicas": per_dep,
                        "last_request_at": NOW - timedelta(seconds=1),
                        **stamps,
                    }
                    for d in range(DEPLOYMENTS)
                ],
            )
            deps = list(c.scalars(sa.select(DeploymentRow.pk).order_by(DeploymentRow.pk)))
            c.execute(
                sa.insert(DeploymentNodepoolRow),
                [
                    {
                        "deployment_pk": dep,
                        "nodepool_pk": pools[(d + k) % POOLS],
                        "priority": 0,
                        "position": k,
                    }
                    for d, dep in enumerate(deps)
                    for k in range(2)
                ],
            )
            per_pool = NODES // POOLS
            c.execute(
                sa.insert(NodeRow),
                [
                    {
                        "id": f"node-{n:05d}",
                        "nodepool_pk": pools[n // per_pool],
                        "instance_type": INSTANCE_TYPE,
                        "capacity_type": "spot",
                        "provider_instance_id": f"i-{n:08x}",
                        "state": "ready",
                        "price_per_hour": price.price_per_hour.spot,
                        "launched_at": t,
                        "registered_at": t,
                        "ready_at": t,
                        "last_heartbeat_at": NOW - timedelta(seconds=2),
                        **stamps,
                    }
                    for n in range(NODES)
                ],
            )
            nodes = list(c.scalars(sa.select(NodeRow.pk).order_by(NodeRow.pk)))
            # Deployment d runs on its first nodepool, d % POOLS: 10 deployments share a
            # nodepool's 250 nodes, 5 replicas on each node.
            rows = []
            for d, dep in enumerate(deps):
                pool_index = d % POOLS
                first_node = pool_index * per_pool
                slot = d // POOLS
                for i in range(per_dep):
                    node = first_node + (slot * per_dep + i) % per_pool
                    rows.append(
                        {
                            "id": f"r-{d:03d}-{i:04d}",
                            "deployment_pk": dep,
                            "model_version_pk": version,
                            "nodepool_pk": pools[pool_index],
                            "node_pk": nodes[node],
                            "state": "ready",
                            "endpoint": f"sim://node-{node:05d}/{d}-{i}",
                            "started_at": t,
                            "ready_at": t,
                            **stamps,
                        }
                    )
            c.execute(sa.insert(ReplicaRow), rows)
            c.execute(
                sa.insert(TrafficSampleRow),
                [
                    {
                        "deployment_pk": dep,
                        "gateway": "bench-gateway",
                        "start_s": NOW.timestamp() - 2,
                        "end_s": NOW.timestamp() - 1,
                        "in_flight": 100.0,
                        "arrivals": 500,
                        "held": 0,
                        "last_request_at": NOW - timedelta(seconds=1),
                    }
                    for dep in deps
                ],
            )
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- the pass


def _stats(profiler: cProfile.Profile) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


@contextmanager
def profiled(enabled: bool) -> Iterator[Callable[[], str | None]]:
    profiler = cProfile.Profile() if enabled else None
    text: list[str] = []
    if profiler:
        profiler.enable()
    try:
        yield lambda: text[0] if text else None
    finally:
        if profiler:
            profiler.disable()
            text.append(_stats(profiler))


def _profiled_read(session: Session) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    snapshots.load(session, NOW, 10.0)
    profiler.disable()
    return _stats(profiler)


async def passes(db_name: str, url: str, home: Path, profile: bool) -> Passes:
    """Seed a fresh database at ``url`` (sync SQLAlchemy URL) and time reconcile passes on it."""
    from alembic import command

    started = time.perf_counter()
    command.upgrade(alembic_config(url), "head")
    async_url = url.replace("sqlite://", "sqlite+aiosqlite://")  # psycopg serves both
    settings = Settings(
        home=home,
        database_url=async_url,
        run_migrations=False,
        shared_cluster_provider="sim",
        shared_cluster_region="sim-east",
        shared_nodepool_instance_types=["sim-cpu-small"],
        providers=["sim"],
    )
    clock = ManualClock(NOW)
    ctx = Context(db=Database(settings.sqlalchemy_url), settings=settings, clock=clock)
    try:
        await bootstrap(ctx)
        seed(url)
        seeded = time.perf_counter() - started
        reconciler = Reconciler(ctx, "bench-server", frozenset({"sim"}))
        first = await timed(reconciler)
        steady = []
        for _ in range(3):
            clock.advance(2.0)
            steady.append(await timed(reconciler))
        async with ctx.db.write() as s:
            await s.execute(
                sa.update(DeploymentRow).values(
                    autoscale_config=_config(REPLICAS // DEPLOYMENTS + 5)
                )
            )
        clock.advance(2.0)
        with profiled(profile) as report:
            scale_up = await timed(reconciler)
        async with ctx.db.read() as s:
            created = await s.scalar(
                sa.select(sa.func.count())
                .select_from(ReplicaRow)
                .where(ReplicaRow.state != "ready")
            )
        read_profile = await ctx.db.read_in_thread(_profiled_read) if profile else None
        return Passes(
            db_name, seeded, first, steady, scale_up, int(created or 0), report(), read_profile
        )
    finally:
        await ctx.db.dispose()


def _sqlite(profile: bool) -> Passes:
    with tempfile.TemporaryDirectory(prefix="flotilla-bench-controller-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'flotilla.db'}"
        return asyncio.run(passes("sqlite", url, Path(tmp) / "home", profile))


def _postgres(profile: bool) -> Passes | str:
    from harness import postgres_database, postgres_version

    if postgres_version(PG_ADMIN_URL) is None:
        return f"PostgreSQL not answering at {PG_ADMIN_URL}"
    with (
        postgres_database(PG_ADMIN_URL, "flotilla_bench_controller") as url,
        tempfile.TemporaryDirectory(prefix="flotilla-bench-controller-") as tmp,
    ):
        return asyncio.run(passes("postgresql", url, Path(tmp) / "home", profile))


# ---------------------------------------------------------------------------- the scheduler


SHAPES = (
    Shape(500, 1 << 30),
    Shape(1000, 2 << 30),
    Shape(2000, 4 << 30),
    Shape(4000, 8 << 30),
)


def scheduler_case(seed_value: int = 1) -> tuple[list[ReplicaRequest], list[NodeSlot]]:
    """20,000 pending replicas of 200 deployments (four shapes, two nodepools each) and 5,000
    sim-cpu-xlarge nodes in 25 nodepools, a third of them half full already."""
    rng = random.Random(seed_value)
    it = shipped_catalog().instance_type("sim", "sim-east", INSTANCE_TYPE)
    assert it is not None
    cpu, memory = int(it.allocatable.cpu), int(it.allocatable.memory)
    pools = 25
    nodes = []
    for n in range(5_000):
        used = rng.random() < 1 / 3
        free = Capacity(cpu // 2 if used else cpu, memory // 2 if used else memory, 0, None)
        replicas = {rng.randrange(200): 4} if used else {}
        nodes.append(NodeSlot(n, n % pools, Capacity(cpu, memory, 0, None), free, True, replicas))
    requests = [
        ReplicaRequest(
            key=d * 100 + i,
            deployment=d,
            need=SHAPES[d % len(SHAPES)],
            pools=(d % pools, (d + 1) % pools),
        )
        for d in range(200)
        for i in range(100)
    ]
    rng.shuffle(requests)
    return requests, nodes


def scheduler_rate(repeats: int = 3) -> dict[str, Any]:
    best = None
    placed = unplaced = 0
    for r in range(repeats):
        requests, nodes = scheduler_case(r + 1)
        started = time.perf_counter()
        result = schedule(requests, nodes)
        seconds = time.perf_counter() - started
        if best is None or seconds < best:
            best, placed, unplaced = seconds, len(result.placements), len(result.unplaced)
    assert best is not None
    return {
        "requests": 20_000,
        "nodes": 5_000,
        "placed": placed,
        "unplaced": unplaced,
        "seconds": round(best, 4),
        "placements_per_second": round(placed / best),
    }


# ---------------------------------------------------------------------------- output


def _pass_json(t: Timed) -> dict[str, Any]:
    p = t.result
    total = p.read_seconds + p.decide_seconds + p.write_seconds
    plan = p.plan
    return {
        "read_seconds": round(p.read_seconds, 3),
        "decide_seconds": round(p.decide_seconds, 3),
        "write_seconds": round(p.write_seconds, 3),
        "total_seconds": round(total, 3),
        "run_once_wall_seconds": round(t.wall_seconds, 3),
        "process_cpu_seconds": round(t.cpu_seconds, 3),
        "new_replicas": len(plan.new_replicas) if plan else 0,
        "placements": len(plan.placements) if plan else 0,
        "deployment_updates": len(plan.deployment_updates) if plan else 0,
    }


def _median(results: list[Timed]) -> Timed:
    totals = [t.wall_seconds for t in results]
    return results[totals.index(statistics.median_low(totals))]


def machine() -> dict[str, Any]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--json", type=Path, default=RESULTS / "controller.json")
    parser.add_argument("--profile", action="store_true", help="cProfile the scale-up pass")
    args = parser.parse_args(argv)
    console = Console()

    report: dict[str, Any] = {"budget_pass_seconds": PASS_BUDGET_SECONDS, "passes": {}}
    runs: list[Passes] = []
    if args.db in ("sqlite", "both"):
        runs.append(_sqlite(args.profile))
    if args.db in ("postgresql", "both"):
        found = _postgres(args.profile)
        if isinstance(found, str):
            console.print(f"[yellow]skipped PostgreSQL:[/] {found}")
        else:
            runs.append(found)

    table = Table(
        title=f"one reconcile pass: {NODES:,} nodes, {REPLICAS:,} replicas, "
        f"{DEPLOYMENTS} deployments, {POOLS} nodepools",
        title_justify="left",
    )
    for column in ("db", "pass", "read s", "decide s", "write s", "total s", "CPU s", "budget"):
        table.add_column(column, justify="left" if column in ("db", "pass") else "right")
    failed = False
    for run in runs:
        entry: dict[str, Any] = {
            "seed_seconds": round(run.seed_seconds, 1),
            "first": _pass_json(run.first),
            "steady": _pass_json(_median(run.steady)),
            "steady_all_totals": [_pass_json(p)["total_seconds"] for p in run.steady],
            "scale_up": _pass_json(run.scale_up),
            "replicas_created": run.created,
        }
        report["passes"][run.db] = entry
        for name in ("first", "steady", "scale_up"):
            p = entry[name]
            met = p["total_seconds"] <= PASS_BUDGET_SECONDS
            failed |= not met
            table.add_row(
                run.db,
                name,
                f"{p['read_seconds']:.3f}",
                f"{p['decide_seconds']:.3f}",
                f"{p['write_seconds']:.3f}",
                f"{p['total_seconds']:.3f}",
                f"{p['process_cpu_seconds']:.3f}",
                "[green]met[/]" if met else "[red]MISSED[/]",
            )
        if run.profile:
            console.print(f"[bold]{run.db}: scale-up pass, by own time[/]\n{run.profile}")
        if run.read_profile:
            console.print(f"[bold]{run.db}: one snapshot read, by own time[/]\n{run.read_profile}")
    console.print(table)

    rate = scheduler_rate()
    rate["met"] = rate["placements_per_second"] >= PLACEMENTS_BUDGET
    failed |= not rate["met"]
    report["scheduler"] = rate
    console.print(
        f"scheduler: {rate['placed']:,} of {rate['requests']:,} replicas placed on "
        f"{rate['nodes']:,} nodes in {rate['seconds']:.3f} s = "
        f"{rate['placements_per_second']:,}/s (budget ≥ {PLACEMENTS_BUDGET:,}/s) "
        + ("[green]met[/]" if rate["met"] else "[red]MISSED[/]"),
        highlight=False,
    )
    report["machine"] = machine()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    console.print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
