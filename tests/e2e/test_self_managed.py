"""A machine the user already has joins a self-managed cluster with ``flotilla agent --join``."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from tests.e2e.conftest import EXAMPLES, Server, processes_under, wait_for


def test_a_joined_machine_becomes_a_node_and_serves_a_deployment(server: Server) -> None:
    server.post(
        "/v1/compute_clusters",
        {
            "id": "on-prem",
            "cluster_type": "self_managed",
            "cloud_provider": "self_managed",
            "region": "default",
        },
    )
    server.post(
        "/v1/compute_clusters/on-prem/nodepools",
        {"id": "racks", "instance_types": [], "min_instances": 0, "max_instances": 4},
    )
    agent_home = server.home / "joined-agent"
    log = (server.home.parent / "agent.log").open("wb")
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flotilla.cli.main",
            "agent",
            "--join",
            server.url,
            "--token",
            server.token,
            "--cluster",
            "on-prem",
            "--nodepool",
            "racks",
            "--home",
            str(agent_home),
            "--cpu",
            "2000",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        nodes = wait_for(
            lambda: [
                n
                for n in server.get("/v1/compute_clusters/on-prem/nodepools/racks/nodes")["items"]
                if n["state"] == "ready"
            ],
            timeout=30,
        )
        assert len(nodes) == 1
        server.upload("echo", EXAMPLES / "echo")
        server.post(
            "/v1/deployments",
            {
                "id": "echo-racks",
                "model": "echo",
                "nodepools": [{"compute_cluster": "on-prem", "nodepool": "racks"}],
                "autoscale_config": {"min_replicas": 1, "max_replicas": 1},
            },
        )
        replica = wait_for(
            lambda: (server.replicas("echo-racks", "ready") or [None])[0], timeout=60
        )
        assert replica["node"] == nodes[0]["id"]
        answer = httpx.post(
            f"{replica['endpoint']}/predict", json={"inputs": "from the racks"}, timeout=10
        )
        assert answer.json() == {"outputs": "from the racks"}
        # Flotilla launched nothing for this cluster: the machine is the user's.
        assert len(server.get("/v1/compute_clusters/on-prem/nodepools/racks/nodes")["items"]) == 1
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
        log.close()
    assert agent.returncode == 0, (server.home.parent / "agent.log").read_text()[-2000:]
    # Its replicas went with it.
    wait_for(lambda: not processes_under(agent_home), timeout=20)
