"""Requests through the gateway to real replicas: cold starts, scale to zero, interruptions."""

from __future__ import annotations

import threading
import time

from tests.e2e.conftest import EXAMPLES, Server, wait_for

LOCAL_POOL = {"compute_cluster": "mine", "nodepool": "cpu", "priority": 0}


def local_nodepool(server: Server, **fields: object) -> None:
    server.post(
        "/v1/compute_clusters", {"id": "mine", "cloud_provider": "local", "region": "local"}
    )
    pool = {"id": "cpu", "instance_types": ["local-small"], "min_instances": 0, "max_instances": 2}
    server.post("/v1/compute_clusters/mine/nodepools", {**pool, **fields})


def deploy(server: Server, **autoscale: object) -> None:
    server.upload("echo", EXAMPLES / "echo")
    server.post(
        "/v1/deployments",
        {"id": "echo", "model": "echo", "nodepools": [LOCAL_POOL], "autoscale_config": autoscale},
    )


def nodes(server: Server, *states: str) -> list[dict[str, object]]:
    items = server.get("/v1/compute_clusters/mine/nodepools/cpu/nodes")["items"]
    return [n for n in items if not states or n["state"] in states]


def test_the_first_request_to_a_nodepool_without_nodes_waits_then_succeeds(gateway: Server) -> None:
    local_nodepool(gateway)
    deploy(gateway, min_replicas=0, max_replicas=1)
    assert nodes(gateway) == []
    response = gateway.predict("echo", {"first": True})
    assert response.status_code == 200, response.text
    assert response.json() == {"outputs": {"first": True}}
    assert [n["state"] for n in nodes(gateway)] == ["ready"]


def test_an_idle_deployment_goes_to_zero_and_the_next_request_succeeds(gateway: Server) -> None:
    local_nodepool(gateway)
    deploy(
        gateway,
        min_replicas=0,
        max_replicas=1,
        traffic_history_seconds=10,
        scale_down_delay_seconds=2,
        scale_to_zero_delay_seconds=4,
    )
    assert gateway.predict("echo", 1).status_code == 200
    wait_for(
        lambda: not gateway.replicas("echo", "ready") and not gateway.replicas("echo", "starting"),
        timeout=60,
    )
    response = gateway.predict("echo", 2)
    assert response.status_code == 200, response.text
    assert response.json() == {"outputs": 2}


def test_an_interruption_notice_moves_replicas_first_and_fails_no_request(gateway: Server) -> None:
    local_nodepool(gateway, capacity_types=["spot", "on_demand"])
    deploy(gateway, min_replicas=1, max_replicas=1)
    assert gateway.predict("echo", "warm").status_code == 200
    [node] = nodes(gateway, "ready")
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            statuses.append(gateway.predict("echo", "during").status_code)
            time.sleep(0.05)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        gateway.post(
            f"/v1/compute_clusters/mine/nodepools/cpu/nodes/{node['id']}/interrupt",
            notice_seconds=25,
        )

        def moved() -> bool:
            states = {n["id"]: n["state"] for n in nodes(gateway)}
            others_ready = any(s == "ready" for nid, s in states.items() if nid != node["id"])
            return states.get(node["id"]) in ("terminated", "preempted") and others_ready

        wait_for(moved, timeout=90)
        time.sleep(1.0)
    finally:
        stop.set()
        asker.join()
    assert statuses, "requests were sent during the interruption"
    assert set(statuses) == {200}
