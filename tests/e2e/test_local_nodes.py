"""The local provider end to end: agents as processes, replicas as processes, real failures."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from tests.e2e.conftest import EXAMPLES, Server, wait_for


def deploy_echo(server: Server, **autoscale: object) -> None:
    server.upload("echo", EXAMPLES / "echo")
    server.post(
        "/v1/deployments",
        {
            "id": "echo",
            "model": "echo",
            "autoscale_config": {"min_replicas": 1, "max_replicas": 2, **autoscale},
        },
    )


def ready_endpoint(server: Server, deployment: str = "echo", timeout: float = 60) -> str:
    replica = wait_for(lambda: (server.replicas(deployment, "ready") or [None])[0], timeout=timeout)
    return str(replica["endpoint"])


def predict(endpoint: str, inputs: object) -> object:
    response = httpx.post(f"{endpoint}/predict", json={"inputs": inputs}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["outputs"]


def pid_on_port(endpoint: str) -> int:
    port = endpoint.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"--port\0{port}".encode() in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    raise AssertionError(f"no process serves {endpoint}")


def test_a_deployment_gets_a_node_and_a_replica_that_answers(server: Server) -> None:
    deploy_echo(server)
    endpoint = ready_endpoint(server)
    assert predict(endpoint, {"hello": "world"}) == {"hello": "world"}
    nodes = server.get("/v1/compute_clusters/shared/nodepools/default/nodes")["items"]
    assert [n["state"] for n in nodes] == ["ready"]


def test_a_killed_replica_is_restarted_and_the_crash_is_an_event(server: Server) -> None:
    deploy_echo(server)
    endpoint = ready_endpoint(server)
    os.kill(pid_on_port(endpoint), signal.SIGKILL)
    crashes = wait_for(lambda: server.events("REPLICA_CRASHED"), timeout=30)
    assert "exited with code -9" in crashes[0]["message"]
    again = ready_endpoint(server)
    assert predict(again, 42) == 42


def test_a_killed_agent_makes_its_node_lost_then_replaced(server: Server) -> None:
    deploy_echo(server)
    ready_endpoint(server)
    [node] = server.get("/v1/compute_clusters/shared/nodepools/default/nodes")["items"]
    agent_pid = int(node["provider_instance_id"].removeprefix("local-"))
    os.killpg(agent_pid, signal.SIGKILL)

    def replaced() -> bool:
        nodes = server.get("/v1/compute_clusters/shared/nodepools/default/nodes")["items"]
        states = {n["id"]: n["state"] for n in nodes}
        return (
            states.get(node["id"]) in ("lost", "terminated", "preempted")
            and "ready" in states.values()
        )

    wait_for(replaced, timeout=60)
    assert predict(ready_endpoint(server), "back") == "back"


def test_a_model_whose_load_raises_shows_why_and_others_are_unaffected(
    server: Server, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.yaml").write_text(
        "id: broken\nentrypoint: model.py:Broken\nresources: {cpu: 250m, memory: 64Mi}\n"
    )
    (broken / "model.py").write_text(
        "from flotilla.runtime import Model\n\n"
        "class Broken(Model):\n"
        "    def load(self):\n"
        "        raise ValueError('weights file is missing')\n\n"
        "    def predict(self, inputs):\n"
        "        return inputs\n"
    )
    deploy_echo(server)
    server.upload("broken", broken)
    server.post(
        "/v1/deployments",
        {"id": "broken", "model": "broken", "autoscale_config": {"min_replicas": 1}},
    )

    def failing() -> str | None:
        reason = server.get("/v1/deployments/broken").get("status_reason") or ""
        return reason if "weights file is missing" in reason else None

    assert wait_for(failing, timeout=120).startswith("REPLICA_FAILING")
    assert predict(ready_endpoint(server), "fine") == "fine"


def test_requirements_that_cannot_install_show_why_and_the_replica_is_retried_not_replaced(
    server: Server, tmp_path: Path
) -> None:
    folder = tmp_path / "unbuildable"
    folder.mkdir()
    (folder / "model.yaml").write_text(
        "id: unbuildable\nentrypoint: model.py:Echo\nresources: {cpu: 250m, memory: 64Mi}\n"
    )
    (folder / "model.py").write_text(
        "from flotilla.runtime import Model\n\n"
        "class Echo(Model):\n"
        "    def predict(self, inputs):\n"
        "        return inputs\n"
    )
    # pip refuses this line before it looks anything up: no network is involved.
    (folder / "requirements.txt").write_text("this is not a requirement!!\n")
    server.upload("unbuildable", folder)
    server.post(
        "/v1/deployments",
        {"id": "unbuildable", "model": "unbuildable", "autoscale_config": {"min_replicas": 1}},
    )

    def failing() -> str | None:
        reason = server.get("/v1/deployments/unbuildable").get("status_reason") or ""
        return reason if "could not be prepared" in reason else None

    reason = wait_for(failing, timeout=120)
    assert reason.startswith("REPLICA_FAILING"), reason
    assert "requirement" in reason.lower(), reason
    wait_for(lambda: len(server.events("REPLICA_NOT_PREPARED")) >= 2, timeout=60)
    replicas = server.replicas("unbuildable")
    assert len(replicas) == 1, replicas  # the same replica is retried, none piles up
    assert replicas[0]["state"] == "starting"
