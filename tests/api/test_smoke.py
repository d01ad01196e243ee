from __future__ import annotations

import httpx

from tests.factories import create_cluster, create_deployment, create_nodepool, ok, upload_model


async def test_a_user_creates_a_cluster_a_nodepool_and_a_deployment_and_reads_them_back(
    client: httpx.AsyncClient,
) -> None:
    await create_cluster(client)
    pool = await create_nodepool(client, capacity_types=["spot", "on_demand"])
    assert pool["status"] == "ready"
    assert pool["capacity_types"] == ["spot", "on_demand"]
    await upload_model(client)
    deployment = await create_deployment(
        client, nodepools=[{"compute_cluster": "gpu-east", "nodepool": "a10-pool", "priority": 5}]
    )
    assert deployment["resolved_model_version"]
    got = await ok(await client.get("/v1/deployments/echo-prod"))
    assert got["nodepools"] == [
        {"compute_cluster": "gpu-east", "nodepool": "a10-pool", "priority": 5}
    ]
    clusters = await ok(await client.get("/v1/compute_clusters"))
    assert [c["id"] for c in clusters["items"]] == ["gpu-east", "shared"]
