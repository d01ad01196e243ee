"""Cold start: time to the first answer through the gateway, from zero replicas on a ready node
and from zero nodes (local provider). DESIGN §9: ≤ 2 s and ≤ 5 s.

    python bench/coldstart.py [--runs 3] [--json bench/results/coldstart.json]

Starts a real ``flotilla server`` (SQLite, local provider) and ``flotilla gateway``, uploads the
echo example, and for each run waits until the deployment (or the nodepool) is at zero, then
times one POST /predict from send to answer.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import _free_port, machine, running_server

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "flotilla" / "examples" / "echo"
SERVER_ENV = {
    "FLOTILLA_PROVIDERS": '["local"]',
    "FLOTILLA_STOP_NODES_ON_EXIT": "true",
    "FLOTILLA_NODE_EMPTY_SECONDS": "3",
    "FLOTILLA_AGENT_HEARTBEAT_SECONDS": "2",
}


def package(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


def wait_for(check, timeout: float = 120.0, every: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout:.0f} s")


def first_answer(gateway: str, token: str) -> float:
    started = time.perf_counter()
    response = httpx.post(
        f"{gateway}/v1/deployments/echo/predict",
        json={"inputs": "cold"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"predict answered {response.status_code}: {response.text}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("bench/results/coldstart.json"))
    args = parser.parse_args()
    with running_server(None, frozenset(), SERVER_ENV) as server:
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
        )
        port = _free_port()
        gateway_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "FLOTILLA_TOKEN": server.token}
        gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flotilla.cli.main",
                "gateway",
                "--port",
                str(port),
                "--server",
                server.url,
                "--log-level",
                "warning",
            ],
            env=env,
            start_new_session=True,
        )
        try:
            wait_for(lambda: _up(gateway_url))
            api.post(
                "/v1/models/echo/versions",
                content=package(EXAMPLE),
                headers={"Content-Type": "application/gzip"},
            )
            autoscale = {
                "min_replicas": 0,
                "max_replicas": 1,
                "traffic_history_seconds": 10,
                "scale_down_delay_seconds": 3,
                "scale_to_zero_delay_seconds": 3,
            }
            api.post(
                "/v1/deployments",
                json={"id": "echo", "model": "echo", "autoscale_config": autoscale},
            )

            def replicas() -> list[dict[str, object]]:
                items = api.get("/v1/deployments/echo/replicas").json()["items"]
                return [r for r in items if r["state"] not in ("stopped", "failed")]

            def nodes() -> list[dict[str, object]]:
                items = api.get("/v1/compute_clusters/shared/nodepools/default/nodes").json()[
                    "items"
                ]
                return [
                    n
                    for n in items
                    if n["state"] in ("launching", "registering", "ready", "draining")
                ]

            from_nodes, from_replicas = [], []
            for _ in range(args.runs):
                wait_for(lambda: not nodes() and not replicas(), timeout=180, every=0.5)
                from_nodes.append(first_answer(gateway_url, server.token))
                print(f"from zero nodes:    {from_nodes[-1]:.2f} s", flush=True)
            api.patch("/v1/compute_clusters/shared/nodepools/default", json={"min_instances": 1})
            for _ in range(args.runs):
                wait_for(
                    lambda: any(n["state"] == "ready" for n in nodes()) and not replicas(),
                    timeout=180,
                    every=0.5,
                )
                time.sleep(1.0)
                from_replicas.append(first_answer(gateway_url, server.token))
                print(f"from zero replicas: {from_replicas[-1]:.2f} s", flush=True)
        finally:
            os.killpg(gateway.pid, signal.SIGTERM)
            gateway.wait(timeout=30)
    result = {
        "from_zero_replicas_s": round(statistics.median(from_replicas), 3),
        "from_zero_nodes_s": round(statistics.median(from_nodes), 3),
        "samples": {"from_zero_replicas_s": from_replicas, "from_zero_nodes_s": from_nodes},
        "budgets": {"from_zero_replicas_s": 2.0, "from_zero_nodes_s": 5.0},
        "machine": machine(None),
        "command": "python bench/coldstart.py " + " ".join(sys.argv[1:]),
    }
    result["passed"] = result["from_zero_replicas_s"] <= 2.0 and result["from_zero_nodes_s"] <= 5.0
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps({k: result[k] for k in ("from_zero_replicas_s", "from_zero_nodes_s", "passed")})
    )


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
