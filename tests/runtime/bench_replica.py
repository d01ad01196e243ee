"""Throughput and latency of one echo replica, and its CPU cost per request.

    .venv/bin/python tests/runtime/bench_replica.py [--connections 16] [--seconds 5] [--wrk]

Starts ``python -m flotilla.runtime`` with ``examples/echo``, then drives ``POST /predict`` over
keep-alive connections from load-generator processes (a lean asyncio HTTP/1.1 client, or
``wrk`` with ``--wrk``). Prints requests/s, p50/p99 latency and the replica's CPU time per
request (user+system from /proc, so it stays meaningful when other work shares the machine).
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BODY = json.dumps({"inputs": {"text": "hello world", "n": 42}}).encode()
REQUEST = (
    b"POST /predict HTTP/1.1\r\nHost: replica\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
"""


async def _drive(port: int, connections: int, deadline: float) -> list[float]:
    latencies: list[float] = []

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            sent = time.perf_counter()
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode())
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return latencies


def _worker(port: int, connections: int, start: float, seconds: float) -> list[float]:
    time.sleep(max(0.0, start - time.monotonic()))
    return asyncio.run(_drive(port, connections, start + seconds))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _python_client(port: int, connections: int, seconds: float, processes: int) -> dict[str, float]:
    start = time.monotonic() + 0.5
    per_process = [
        connections // processes + (i < connections % processes) for i in range(processes)
    ]
    with ProcessPoolExecutor(processes) as pool:
        futures = [pool.submit(_worker, port, n, start, seconds) for n in per_process if n]
        latencies = sorted(x for f in futures for x in f.result())
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def _wrk(port: int, connections: int, seconds: float) -> dict[str, float]:
    script = Path("/tmp/flotilla-bench-replica.lua")
    script.write_text(WRK_SCRIPT % BODY.decode())
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/predict"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"requests": requests, "rps": rps, "p50_ms": ms("50%"), "p99_ms": ms("99%")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=1, help="load-generator processes")
    parser.add_argument("--wrk", action="store_true", help="drive with wrk instead")
    parser.add_argument("--pin", action="store_true", help="replica on CPU 0, load on CPU 1")
    args = parser.parse_args()

    command = [sys.executable, "-m", "flotilla.runtime", "--package", str(REPO / "examples/echo")]
    command += ["--entrypoint", "model.py:Echo", "--port", "0"]
    replica = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        assert replica.stderr is not None
        port = 0
        while not port:
            line = replica.stderr.readline()
            if match := re.search(r"listening on http://127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
            elif not line:
                raise SystemExit("the replica did not start")
        time.sleep(0.3)
        if args.pin:
            os.sched_setaffinity(replica.pid, {0})
            os.sched_setaffinity(0, {1})
        cpu_before = _cpu_seconds(replica.pid)
        if args.wrk:
            result = _wrk(port, args.connections, args.seconds)
        else:
            result = _python_client(port, args.connections, args.seconds, args.processes)
        cpu = _cpu_seconds(replica.pid) - cpu_before
    finally:
        replica.terminate()
        replica.wait(10)
    result["replica_cpu_us_per_request"] = cpu / result["requests"] * 1e6
    result["connections"] = args.connections
    print(json.dumps({k: round(v, 3) for k, v in result.items()}))


if __name__ == "__main__":
    main()
