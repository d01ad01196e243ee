"""API benchmark (DESIGN §9, first row): single-object GET/s, create/s and list p50/p99 over
10,000 compute clusters, on SQLite and on PostgreSQL, against a real ``flotilla server``.

    python bench/api.py                       # both databases, about 2.5 minutes
    python bench/api.py --quick --db sqlite   # smoke run for CI, under 20 s

The server is a subprocess (``flotilla server``, as shipped: controllers on) with a fresh
FLOTILLA_HOME, its own port and, for PostgreSQL, its own database (``flotilla_bench``, dropped at
the end); it is pinned to the last core and stopped by its PID. The load comes over real HTTP/1.1
keep-alive connections from worker processes pinned to the other cores (``loadgen.py``).
Per database:

1. seed: 7,000 clusters are inserted straight into the database (to keep the run short);
2. create/s: the last 3,000 go through POST /v1/compute_clusters, 8 concurrent connections;
3. GET/s: GET /v1/compute_clusters/{id} of random existing ids, 8 connections, for 8 s;
4. list p50/p99: GET /v1/compute_clusters?page=N&per_page=128 of random pages across the whole
   range, one request at a time (latency, not queueing), for 15 s.

Each phase also reports the server's CPU per request (all its threads), the load generator's CPU
and everybody else's (PostgreSQL, other processes) - see docs/benchmarks.md for how to read them.
``--server-env FLOTILLA_CONTROLLERS=false`` measures the API alone; ``--profile DIR`` writes
py-spy flame graphs of the server per phase.

Prints tables and writes JSON (default bench/results/api.json; api-quick.json with --quick).
Exit status: 0 done, 1 a budget was missed (full runs only), 2 requests failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shlex
import sys
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from api_report import console, print_report
from harness import (
    CLOCK_TICKS,
    PG_ADMIN_URL,
    Server,
    cpu_split,
    machine,
    machine_busy,
    postgres_database,
    postgres_version,
    py_spy,
    running_server,
    seed_clusters,
)
from loadgen import Call, Job, JobResult, pin_to, run_job

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = {"get_per_s": 1000.0, "create_per_s": 300.0, "list_p99_ms": 50.0}
PER_PAGE = 128


@dataclass(frozen=True)
class Plan:
    objects: int  # compute clusters present for GET and list
    creates: int  # of which created through the API (the last ones); the rest are seeded
    get_seconds: float
    list_seconds: float
    procs: int
    connections: int


@dataclass(frozen=True)
class Phase:
    """One measured phase: what was sent, what came back, and who spent the CPU."""

    requests: int
    errors: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_pct: float
    server_cpu_ms_per_request: float
    client_cpu_pct: float
    other_cpu_pct: float
    error_samples: list[str]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def run_phase(
    pool: ProcessPoolExecutor,
    server: Server,
    method: str,
    calls: Sequence[Call],
    *,
    procs: int,
    connections: int,
    expect_status: int,
    duration: float | None = None,
) -> Phase:
    start_at = time.monotonic() + 0.3  # time for the workers to receive their job
    shards = [calls] * procs if duration is not None else [calls[i::procs] for i in range(procs)]
    futures = [
        pool.submit(
            run_job,
            Job(
                base_url=server.url,
                token=server.token,
                method=method,
                calls=shard,
                connections=connections,
                expect_status=expect_status,
                start_at=start_at,
                duration=duration,
                seed=random.randrange(1 << 30),
            ),
        )
        for shard in shards
        if shard
    ]
    time.sleep(max(0.0, start_at - time.monotonic()))
    cpu_before, busy_before = server.cpu_seconds(), machine_busy()
    results: list[JobResult] = [f.result() for f in futures]
    cpu_after, busy_after = server.cpu_seconds(), machine_busy()
    seconds = max(r.ended for r in results) - min(r.started for r in results)
    requests = sum(r.ok + r.errors for r in results)
    latencies = [ms for r in results for ms in r.latencies_ms]
    server_cpu = cpu_after - cpu_before
    client_cpu = sum(r.cpu_seconds for r in results)
    # the whole machine's busy time in core-seconds, less the server's and the load's: the
    # PostgreSQL backends, and whatever else runs on the machine (a noisy neighbour shows here)
    busy = (busy_after - busy_before) / CLOCK_TICKS
    return Phase(
        requests=requests,
        errors=sum(r.errors for r in results),
        seconds=round(seconds, 3),
        per_s=round(sum(r.ok for r in results) / seconds, 1),
        p50_ms=round(percentile(latencies, 50), 2),
        p99_ms=round(percentile(latencies, 99), 2),
        server_cpu_pct=round(100 * server_cpu / seconds, 1),
        server_cpu_ms_per_request=round(1000 * server_cpu / max(1, requests), 3),
        client_cpu_pct=round(100 * client_cpu / seconds, 1),
        other_cpu_pct=round(100 * max(0.0, busy - server_cpu - client_cpu) / seconds, 1),
        error_samples=[s for r in results for s in r.error_samples][:5],
    )


def cluster_id(i: int) -> str:
    return f"bench-{i:05d}"


def create_calls(first: int, end: int) -> list[Call]:
    calls: list[Call] = []
    for i in range(first, end):
        body = {
            "id": cluster_id(i),
            "description": "bench cluster",
            "cluster_type": "dedicated",
            "cloud_provider": "aws",
            "region": "us-east-1",
        }
        calls.append(("/v1/compute_clusters", json.dumps(body).encode()))
    return calls


def list_path(page: int) -> str:
    return f"/v1/compute_clusters?page={page}&per_page={PER_PAGE}"


def listed_total(server: Server, pages: int) -> int:
    """How many clusters the API lists (checked once, from the last page)."""
    request = urllib.request.Request(
        server.url + list_path(pages), headers={"Authorization": f"Bearer {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    if body["next_page"] is not None:
        return -1
    return (pages - 1) * PER_PAGE + len(body["items"])


def bench_database(
    pool: ProcessPoolExecutor,
    db: str,
    database_url: str | None,
    plan: Plan,
    cpus: frozenset[int],
    profile: Path | None,
    server_env: dict[str, str],
) -> dict[str, Any]:
    def profiled(phase: str) -> contextlib.AbstractContextManager[None]:
        return py_spy(server.pid, profile / f"api-{db}-{phase}.svg" if profile else None)

    with running_server(database_url, cpus, server_env) as server:
        console.log(f"[{db}] server pid {server.pid} at {server.url}")
        common = {"procs": plan.procs, "connections": plan.connections}
        warm = [("/v1/compute_clusters/shared", None)] * 200 + [(list_path(1), None)] * 20
        run_phase(pool, server, "GET", warm, expect_status=200, **common)

        seeded = plan.objects - plan.creates
        console.log(f"[{db}] seeding {seeded:,} clusters in the database")
        seed_clusters(server, [cluster_id(i) for i in range(seeded)])
        console.log(f"[{db}] creating {plan.creates:,} clusters through the API")
        with profiled("create"):
            create = run_phase(
                pool,
                server,
                "POST",
                create_calls(seeded, plan.objects),
                expect_status=201,
                **common,
            )
        console.log(f"[{db}] create: {create.per_s:,.0f}/s")

        gets = [(f"/v1/compute_clusters/{cluster_id(i)}", None) for i in range(plan.objects)]
        with profiled("get"):
            get = run_phase(
                pool, server, "GET", gets, expect_status=200, duration=plan.get_seconds, **common
            )
        console.log(f"[{db}] GET: {get.per_s:,.0f}/s")

        pages = math.ceil((plan.objects + 1) / PER_PAGE)  # + the shared cluster
        total = listed_total(server, pages)
        page_calls = [(list_path(page), None) for page in range(1, pages + 1)]
        with profiled("list"):
            listing = run_phase(
                pool,
                server,
                "GET",
                page_calls,
                expect_status=200,
                duration=plan.list_seconds,
                procs=1,
                connections=1,
            )
        console.log(f"[{db}] list: p50 {listing.p50_ms} ms, p99 {listing.p99_ms} ms")
    if total != plan.objects + 1:  # every cluster made, and the shared one
        raise RuntimeError(f"[{db}] the API lists {total} clusters, expected {plan.objects + 1}")
    row: dict[str, Any] = {
        "db": db,
        "objects": plan.objects,
        "created_through_api": plan.creates,
        "listed": total,
        "get_per_s": get.per_s,
        "create_per_s": create.per_s,
        "list_p50_ms": listing.p50_ms,
        "list_p99_ms": listing.p99_ms,
        "phases": {"create": asdict(create), "get": asdict(get), "list": asdict(listing)},
    }
    row["missed"] = missed_budgets(row)
    return row


def missed_budgets(row: dict[str, Any]) -> list[str]:
    missed = []
    if row["get_per_s"] < BUDGETS["get_per_s"]:
        missed.append("get_per_s")
    if row["create_per_s"] < BUDGETS["create_per_s"]:
        missed.append("create_per_s")
    if not row["list_p99_ms"] <= BUDGETS["list_p99_ms"]:
        missed.append("list_p99_ms")
    return missed


def env_item(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="1,000 objects, short phases (CI)")
    parser.add_argument("--json", type=Path, help="where to write results")
    parser.add_argument("--objects", type=int, help="clusters present [10000; quick 1000]")
    parser.add_argument(
        "--creates", type=int, help="of which created through the API [3000; quick 200]"
    )
    parser.add_argument("--get-seconds", type=float, help="GET phase length [8; quick 2]")
    parser.add_argument("--list-seconds", type=float, help="list phase length [15; quick 3]")
    parser.add_argument(
        "--procs",
        type=int,
        default=max(1, min(4, (cpus or 2) - 1)),
        help="load generator processes [cores - 1]",
    )
    parser.add_argument("--connections", type=int, default=8, help="connections per process")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="PostgreSQL to create in")
    parser.add_argument("--pg-db", default="flotilla_bench", help="database created and dropped")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load")
    parser.add_argument(
        "--server-env",
        type=env_item,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server, e.g. FLOTILLA_CONTROLLERS=false (repeatable)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write py-spy flame graphs of the server, one per phase (py-spy on PATH)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    objects = args.objects or (1_000 if args.quick else 10_000)
    plan = Plan(
        objects=objects,
        creates=min(objects, args.creates or (200 if args.quick else 3_000)),
        get_seconds=args.get_seconds or (2.0 if args.quick else 8.0),
        list_seconds=args.list_seconds or (3.0 if args.quick else 15.0),
        procs=args.procs,
        connections=args.connections,
    )
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in dbs and postgres_version(args.pg_admin_url) is None:
        console.print(
            f"[red]PostgreSQL is not reachable at {args.pg_admin_url}[/red]; "
            "start it, pass --pg-admin-url, or run with --db sqlite"
        )
        return 2
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    server_env = dict(args.server_env)
    server_cpus, load_cpus = (frozenset(), frozenset()) if args.no_pin else cpu_split()
    started = time.monotonic()
    rows = []
    context = get_context("spawn")
    with ProcessPoolExecutor(
        plan.procs, mp_context=context, initializer=pin_to, initargs=(load_cpus,)
    ) as pool:
        for _ in range(plan.procs):  # start the workers now, while the server starts
            pool.submit(os.getpid)
        for db in dbs:
            with (
                postgres_database(args.pg_admin_url, args.pg_db)
                if db == "postgresql"
                else contextlib.nullcontext(None)
            ) as url:
                rows.append(
                    bench_database(pool, db, url, plan, server_cpus, args.profile, server_env)
                )
    errors = sum(p["errors"] for row in rows for p in row["phases"].values())
    passed = not any(row["missed"] for row in rows) and errors == 0
    report = {
        "rows": rows,
        "budgets": BUDGETS,
        "passed": passed,
        "quick": args.quick,
        "plan": asdict(plan),
        "pinning": {"server_cpus": sorted(server_cpus), "load_cpus": sorted(load_cpus)},
        "machine": machine(args.pg_admin_url if "postgresql" in dbs else None),
        "command": shlex.join(["python", sys.argv[0], *argv]),
        "profiled": bool(args.profile),
        "server_env": server_env,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    print_report(rows, plan.objects, BUDGETS)
    path = args.json or RESULTS / ("api-quick.json" if args.quick else "api.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    console.log(
        f"{'passed' if passed else 'NOT passed'}; wrote {path} in {report['wall_seconds']} s"
    )
    if errors:
        return 2
    return 0 if passed or args.quick else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
