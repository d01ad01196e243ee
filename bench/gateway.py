"""Gateway benchmark (DESIGN §9, row 5): what the gateway adds to a prediction, beside a direct
call to the replica and an nginx reverse proxy in front of the same replica, in one run.

    python bench/gateway.py                  # ~1.5 minutes
    python bench/gateway.py --quick          # smoke run, ~30 s
    python bench/gateway.py --compare-httpx  # also a gateway whose replica client is httpx

One echo replica (the real runtime, ``examples/echo``), a real ``flotilla server`` (SQLite,
controllers off: the replica is recorded in its database as an agent would report it), the
gateway as its own process (``flotilla gateway``) and nginx (Debian's ``nginx-light``, one worker,
keep-alive to the replica) all run at once. The load comes from ``loadgen.py`` worker processes
over keep-alive connections; for each concurrency (1, 16, 64) the three paths are measured in
turn, so they share the machine's conditions. Nothing is pinned: on two cores every process
competes with the others, as it would on a small real node.

Budgets: the gateway adds ≤ 1 ms at p50 (concurrency 1, gateway p50 − direct p50) and passes
≥ 3,000 requests/s (its best row). Prints a table and writes JSON (default
bench/results/gateway.json) and a PNG plot beside it.
Exit status: 0 done, 1 a budget was missed (full runs only), 2 requests failed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness import CLOCK_TICKS, Server, machine, machine_busy, running_server
from loadgen import Job, JobResult, run_job

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ECHO = ROOT / "examples" / "echo"
BUDGET_ADDED_P50_MS = 1.0
BUDGET_RPS = 3000.0
CONCURRENCY = (1, 16, 64)
BODY = json.dumps({"inputs": {"text": "hello", "n": 1}}).encode()
PREDICT = "/v1/deployments/echo/predict"
console = Console(width=None if sys.stdout.isatty() else 120)


# the processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


@contextlib.contextmanager
def process(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped by its PID (SIGTERM, then SIGKILL) when done."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def echo_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(ECHO.iterdir()):
            if path.is_file():
                tar.add(path, arcname=path.name)
    return buffer.getvalue()


def api(server: Server, method: str, path: str, body: bytes, content_type: str) -> Any:
    request = urllib.request.Request(
        server.url + path,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def record_replica(server: Server, endpoint: str) -> None:
    """Upload the echo model, deploy it and record one ready replica at ``endpoint`` in the
    server's database, as the agent's report would (controllers are off in this server)."""
    import sqlalchemy as sa

    from flotilla.store.tables import DeploymentRow, ModelVersionRow, ReplicaRow

    api(server, "POST", "/v1/models/echo/versions", echo_archive(), "application/gzip")
    api(
        server,
        "POST",
        "/v1/deployments",
        json.dumps({"id": "echo", "model": "echo"}).encode(),
        "application/json",
    )
    engine = sa.create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            deployment_pk, model_pk = conn.execute(
                sa.select(DeploymentRow.pk, DeploymentRow.model_pk).where(
                    DeploymentRow.id == "echo"
                )
            ).one()
            version_pk = conn.execute(
                sa.select(sa.func.max(ModelVersionRow.pk)).where(
                    ModelVersionRow.model_pk == model_pk
                )
            ).scalar_one()
            now = datetime.now(UTC)
            conn.execute(
                sa.insert(ReplicaRow).values(
                    id="bench-echo-0",
                    deployment_pk=deployment_pk,
                    model_version_pk=version_pk,
                    state="ready",
                    endpoint=endpoint,
                    restarts=0,
                    created_at=now,
                    modified_at=now,
                )
            )
    finally:
        engine.dispose()


NGINX_CONF = """
worker_processes 1;
daemon off;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    keepalive_requests 1000000;
    upstream replica {{
        server 127.0.0.1:{replica_port};
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = {predict} {{
            proxy_pass http://replica/predict;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    """nginx on PATH (or /usr/sbin); installs Debian's nginx-light when running as root."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    console.log(
        "nginx is missing; installing Debian's nginx-light (apt-get install -y nginx-light)"
    )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "nginx-light"], env=env, check=False, capture_output=True
    )
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


# measuring
def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    return []


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def measure(
    pool: ProcessPoolExecutor,
    base_url: str,
    path: str,
    token: str,
    concurrency: int,
    seconds: float,
    proxy_pids: Sequence[int],
) -> dict[str, Any]:
    procs = 1 if concurrency == 1 else 2
    start_at = time.monotonic() + 0.3
    jobs = [
        Job(
            base_url=base_url,
            token=token,
            method="POST",
            calls=[(path, BODY)],
            connections=concurrency // procs,
            expect_status=200,
            start_at=start_at,
            duration=seconds,
            seed=i,
        )
        for i in range(procs)
    ]
    futures = [pool.submit(run_job, job) for job in jobs]
    time.sleep(max(0.0, start_at - time.monotonic()))
    cpu_before, busy_before = cpu_seconds(proxy_pids), machine_busy()
    results: list[JobResult] = [f.result() for f in futures]
    cpu_after, busy_after = cpu_seconds(proxy_pids), machine_busy()
    wall = max(r.ended for r in results) - min(r.started for r in results)
    latencies = [ms for r in results for ms in r.latencies_ms]
    requests = sum(r.ok + r.errors for r in results)
    return {
        "rps": round(sum(r.ok for r in results) / wall, 1),
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "requests": requests,
        "errors": sum(r.errors for r in results),
        "proxy_cpu_us_per_request": round(1e6 * (cpu_after - cpu_before) / max(1, requests), 1)
        if proxy_pids
        else None,
        "machine_busy_pct": round(
            100 * (busy_after - busy_before) / CLOCK_TICKS / wall / (os.cpu_count() or 1), 1
        ),
        "error_samples": [s for r in results for s in r.error_samples][:3],
    }


def warm(pool: ProcessPoolExecutor, base_url: str, path: str, token: str) -> None:
    """Open connections and fill caches (token, routes, pools) before measuring."""
    measure(pool, base_url, path, token, 16, 0.5, [])


def loadavg() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]


# the run
def run(
    args: argparse.Namespace, seconds: float, folder: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    replica_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
    extra: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            running_server(None, frozenset(), extra_env={"FLOTILLA_CONTROLLERS": "false"})
        )
        runtime = stack.enter_context(
            process(
                [
                    sys.executable,
                    "-m",
                    "flotilla.runtime",
                    "--package",
                    str(ECHO),
                    "--entrypoint",
                    "model.py:Echo",
                    "--port",
                    str(replica_port),
                ],
                folder / "replica.log",
            )
        )
        wait_http(f"http://127.0.0.1:{replica_port}/ready", process=runtime)
        record_replica(server, f"http://127.0.0.1:{replica_port}")
        paths: dict[str, tuple[str, str, list[int]]] = {
            "direct": (f"http://127.0.0.1:{replica_port}", "/predict", [])
        }
        gateway = stack.enter_context(
            process(
                [
                    sys.executable,
                    "-m",
                    "flotilla.cli.main",
                    "gateway",
                    "--port",
                    str(gateway_port),
                    "--server",
                    server.url,
                    "--log-level",
                    "warning",
                ],
                folder / "gateway.log",
                env={"FLOTILLA_TOKEN": server.token},
            )
        )
        wait_http(f"http://127.0.0.1:{gateway_port}/readyz", process=gateway)
        paths["gateway"] = (f"http://127.0.0.1:{gateway_port}", PREDICT, [gateway.pid])
        if args.compare_httpx:
            httpx_port = free_port()
            variant = stack.enter_context(
                process(
                    [
                        sys.executable,
                        str(Path(__file__)),
                        "--serve-httpx-gateway",
                        str(httpx_port),
                        "--server",
                        server.url,
                    ],
                    folder / "gateway-httpx.log",
                    env={"FLOTILLA_TOKEN": server.token},
                )
            )
            wait_http(f"http://127.0.0.1:{httpx_port}/readyz", process=variant)
            paths["gateway-httpx"] = (f"http://127.0.0.1:{httpx_port}", PREDICT, [variant.pid])
        nginx = nginx_binary()
        if nginx is None:
            extra["nginx_skipped"] = "nginx not found; as root: apt-get install -y nginx-light"
            console.log(f"[yellow]nginx row skipped: {extra['nginx_skipped']}[/yellow]")
        else:
            conf_dir = folder / "nginx"
            conf_dir.mkdir(exist_ok=True)
            conf = conf_dir / "nginx.conf"
            conf.write_text(
                NGINX_CONF.format(
                    folder=conf_dir, replica_port=replica_port, port=nginx_port, predict=PREDICT
                )
            )
            master = stack.enter_context(
                process([nginx, "-c", str(conf), "-p", str(conf_dir)], folder / "nginx.log")
            )
            time.sleep(0.5)
            wait_for_port(nginx_port, master)
            paths["nginx"] = (f"http://127.0.0.1:{nginx_port}", PREDICT, children(master.pid))
            extra["nginx_version"] = subprocess.run(
                [nginx, "-v"], capture_output=True, text=True
            ).stderr.strip()
        rows = []
        context = get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            for url, path, _ in paths.values():
                warm(pool, url, path, server.token)
            for concurrency in CONCURRENCY:
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
                for _ in range(args.repeat):  # paths in turn, so that they share conditions
                    for name, (url, path, pids) in paths.items():
                        figures = measure(pool, url, path, server.token, concurrency, seconds, pids)
                        runs[name].append(figures)
                for name, measured in runs.items():
                    best = max(measured, key=lambda r: r["rps"])
                    best["rps_runs"] = [r["rps"] for r in measured]
                    best["p50_ms_runs"] = [r["p50_ms"] for r in measured]
                    rows.append({"path": name, "concurrency": concurrency, **best})
                    console.log(
                        f"{name:>13} c={concurrency:<3} {best['rps']:>8.0f}/s "
                        f"p50 {best['p50_ms']:.3f} ms p99 {best['p99_ms']:.3f} ms"
                    )
    return rows, extra


def wait_for_port(port: int, child: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"nginx exited with {child.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nginx not listening on {port}")


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def row(path: str, concurrency: int) -> dict[str, Any] | None:
        return next(
            (r for r in rows if r["path"] == path and r["concurrency"] == concurrency), None
        )

    direct, gateway = row("direct", 1), row("gateway", 1)
    added = round(gateway["p50_ms"] - direct["p50_ms"], 3) if direct and gateway else None
    best_rps = max((r["rps"] for r in rows if r["path"] == "gateway"), default=0.0)
    return {
        "gateway_added_p50_ms_at_1": added,
        "gateway_best_rps": best_rps,
        "added_p50_met": added is not None and added <= BUDGET_ADDED_P50_MS,
        "rps_met": best_rps >= BUDGET_RPS,
    }


def print_report(rows: list[dict[str, Any]], check: dict[str, Any]) -> None:
    table = Table(title="Gateway beside a direct call and nginx, echo replica (DESIGN §9 row 5)")
    for name in (
        "path",
        "concurrency",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "proxy CPU µs/req",
        "machine busy",
        "errors",
    ):
        table.add_column(name, justify="left" if name == "path" else "right")
    for r in rows:
        cpu = r["proxy_cpu_us_per_request"]
        table.add_row(
            r["path"],
            str(r["concurrency"]),
            f"{r['rps']:,.0f}",
            f"{r['p50_ms']:.3f}",
            f"{r['p99_ms']:.3f}",
            "-" if cpu is None else f"{cpu:.0f}",
            f"{r['machine_busy_pct']:.0f}%",
            str(r["errors"]),
        )
    added = check["gateway_added_p50_ms_at_1"]
    table.caption = (
        f"gateway adds {added} ms at p50, concurrency 1 (budget ≤ {BUDGET_ADDED_P50_MS} ms: "
        f"{'met' if check['added_p50_met'] else 'MISSED'}); best {check['gateway_best_rps']:,.0f}/s "
        f"(budget ≥ {BUDGET_RPS:,.0f}/s: {'met' if check['rps_met'] else 'MISSED'})"
    )
    console.print(table)
    for r in rows:
        for sample in r["error_samples"]:
            console.print(f"[red]{r['path']} c={r['concurrency']} error:[/red] {sample}")


def draw(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.log("matplotlib not installed: no plot")
        return
    names = list(dict.fromkeys(r["path"] for r in rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        mine = [r for r in rows if r["path"] == name]
        xs = [j + i * width for j in range(len(mine))]
        left.bar(xs, [r["rps"] for r in mine], width, label=name)
        right.bar(xs, [r["p50_ms"] for r in mine], width, label=name)
    for axis, title in ((left, "requests/s"), (right, "p50 latency (ms)")):
        axis.set_xticks(
            [j + 0.4 - width / 2 for j in range(len(CONCURRENCY))], [f"c={c}" for c in CONCURRENCY]
        )
        axis.set_title(title)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def serve_httpx_gateway(port: int, server: str, token: str) -> None:
    """The gateway with its replica client swapped for ``httpx.AsyncClient`` (pooled, keep-alive,
    streaming): the comparison that decided for the gateway's own client."""
    import httpx
    import uvloop

    from flotilla.gateway import upstream
    from flotilla.gateway.app import Gateway, GatewayOptions
    from flotilla.gateway.main import serve

    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=256), timeout=300
    )

    async def forward(
        self: upstream.Replica, body: bytes, send: Any, extra: list[tuple[bytes, bytes]]
    ) -> int:
        request = client.build_request(
            "POST",
            self.endpoint + "/predict",
            content=body,
            headers={"content-type": "application/json"},
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError as error:
            raise upstream.NotReached(str(error), refused=True) from None
        try:
            headers = [
                (k.lower(), v)
                for k, v in response.headers.raw
                if k.lower() not in upstream.HOP_BY_HOP
            ]
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": headers + extra,
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()
        return response.status_code

    upstream.Replica.forward = forward  # type: ignore[method-assign]
    options = GatewayOptions(server=server, token=token, name="gw-bench-httpx", port=port)
    uvloop.run(serve(Gateway(options), "warning"))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--json", type=Path, help="where to write results [bench/results/gateway.json]"
    )
    parser.add_argument("--quick", action="store_true", help="short phases (CI smoke run)")
    parser.add_argument(
        "--seconds", type=float, help="length of each measured phase [5; quick 1.5]"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each row N times and keep the run with the most requests/s (other load "
        "on the machine only ever makes a run worse)",
    )
    parser.add_argument("--compare-httpx", action="store_true", help="add a gateway using httpx")
    parser.add_argument("--serve-httpx-gateway", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.serve_httpx_gateway:
        serve_httpx_gateway(args.serve_httpx_gateway, args.server, os.environ["FLOTILLA_TOKEN"])
        return 0
    seconds = args.seconds or (1.5 if args.quick else 5.0)
    started = time.monotonic()
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="flotilla-bench-gateway-") as tmp:
        try:
            rows, extra = run(args, seconds, Path(tmp))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                console.print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
            raise
    check = verdict(rows)
    errors = sum(r["errors"] for r in rows)
    passed = check["added_p50_met"] and check["rps_met"] and errors == 0
    report = {
        "rows": rows,
        "checks": check,
        "budgets": {"added_p50_ms": BUDGET_ADDED_P50_MS, "rps": BUDGET_RPS},
        "passed": passed,
        "quick": args.quick,
        "seconds_per_row": seconds,
        "repeat": args.repeat,
        "load_average_before": load_before,
        "load_average_after": loadavg(),
        "machine": machine(None),
        "command": shlex.join(["python", sys.argv[0], *argv]),
        "wall_seconds": round(time.monotonic() - started, 1),
        **extra,
    }
    print_report(rows, check)
    path = args.json or RESULTS / ("gateway-quick.json" if args.quick else "gateway.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    draw(rows, path.with_suffix(".png"))
    console.log(
        f"{'passed' if passed else 'NOT passed'}; load {load_before} → {report['load_average_after']}; wrote {path}"
    )
    if errors:
        return 2
    return 0 if passed or args.quick else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
