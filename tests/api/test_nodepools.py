"""/v1/compute_clusters/{id}/nodepools: instance types from the catalog, min/max, merge patch,
deletes, and who sees what."""

from __future__ import annotations

import httpx
import pytest

from flotilla.catalog import Catalog
from flotilla.domain.states import CapacityType
from flotilla.services.context import Context
from tests.factories import (
    add_running_node,
    create_cluster,
    create_deployment,
    create_nodepool,
    create_user,
    expect_error,
    ok,
    upload_model,
)

POOLS = "/v1/compute_clusters/gpu-east/nodepools"


@pytest.fixture
async def cluster(client: httpx.AsyncClient) -> None:
    await create_cluster(client, "gpu-east")


@pytest.mark.usefixtures("cluster")
async def test_a_new_nodepool_is_ready_on_demand_by_default(client: httpx.AsyncClient) -> None:
    pool = await create_nodepool(client, "gpu-east", "a10-pool")
    assert pool["status"] == "ready"
    assert pool["capacity_types"] == ["on_demand"]
    assert pool["compute_cluster"] == "gpu-east"
    assert pool["nodes"] == {"total": 0, "ready": 0, "launching": 0, "draining": 0}
    cluster = await ok(await client.get("/v1/compute_clusters/gpu-east"))
    assert cluster["nodepool_count"] == 1


@pytest.mark.usefixtures("cluster")
async def test_spot_with_on_demand_fallback_keeps_its_order(client: httpx.AsyncClient) -> None:
    pool = await create_nodepool(client, capacity_types=["spot", "on_demand"])
    assert pool["capacity_types"] == ["spot", "on_demand"]


@pytest.mark.usefixtures("cluster")
async def test_an_instance_type_not_offered_in_the_clusters_region_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "p", "instance_types": ["g5.xlarge", "n2-standard-8"]}  # the second is GCP's
    problem = expect_error(await client.post(POOLS, json=body), 422, "UNKNOWN_INSTANCE_TYPE")
    assert list(problem["fields"]) == ["instance_types.1"]
    assert "aws/us-east-1" in str(problem["message"])


@pytest.mark.usefixtures("cluster")
async def test_a_nodepool_needs_at_least_one_instance_type(client: httpx.AsyncClient) -> None:
    problem = expect_error(
        await client.post(POOLS, json={"id": "p", "instance_types": []}), 422, "INVALID_ARGUMENT"
    )
    assert problem["fields"] == {"instance_types": "required"}


@pytest.mark.usefixtures("cluster")
async def test_an_invalid_instance_type_name_is_rejected_naming_it(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "p", "instance_types": ["g5 xlarge"]}
    problem = expect_error(await client.post(POOLS, json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == ["instance_types.0"]


@pytest.mark.usefixtures("cluster")
async def test_min_instances_above_max_is_rejected_naming_both_fields(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "p", "instance_types": ["g5.xlarge"], "min_instances": 5, "max_instances": 2}
    problem = expect_error(await client.post(POOLS, json=body), 422, "INVALID_ARGUMENT")
    assert set(problem["fields"]) == {"min_instances", "max_instances"}
    assert problem["message"] == "min_instances (5) must not exceed max_instances (2)"


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize("field", ["min_instances", "max_instances"])
async def test_a_negative_instance_count_is_rejected_naming_it(
    client: httpx.AsyncClient, field: str
) -> None:
    body = {"id": "p", "instance_types": ["g5.xlarge"], field: -1}
    problem = expect_error(await client.post(POOLS, json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == [field]


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize("value", ["4", 4.5, True])
async def test_an_instance_count_must_be_a_json_integer(
    client: httpx.AsyncClient, value: object
) -> None:
    body = {"id": "p", "instance_types": ["g5.xlarge"], "max_instances": value}
    problem = expect_error(await client.post(POOLS, json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == ["max_instances"]


@pytest.mark.usefixtures("cluster")
async def test_an_unknown_field_is_rejected_naming_it(client: httpx.AsyncClient) -> None:
    body = {"id": "p", "instance_types": ["g5.xlarge"], "spot": True}
    problem = expect_error(await client.post(POOLS, json=body), 422, "INVALID_ARGUMENT")
    assert problem["fields"] == {"spot": "unknown field; remove it (check its spelling)"}


@pytest.mark.usefixtures("cluster")
async def test_an_unknown_capacity_type_is_rejected(client: httpx.AsyncClient) -> None:
    body = {"id": "p", "instance_types": ["g5.xlarge"], "capacity_types": ["reserved"]}
    problem = expect_error(await client.post(POOLS, json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == ["capacity_types.0"]


@pytest.mark.usefixtures("cluster")
async def test_spot_is_refused_when_no_instance_type_offers_it(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    # Every shipped type offers spot: make one that does not.
    shipped = ctx.catalog
    ctx.catalog = Catalog(
        providers=shipped.providers,
        instance_types=[
            it.model_copy(update={"allowed_capacity_types": [CapacityType.ON_DEMAND]})
            if it.id == "g5.xlarge"
            else it
            for it in shipped.instance_types
        ],
    )
    body = {"id": "p", "instance_types": ["g5.xlarge"], "capacity_types": ["spot", "on_demand"]}
    problem = expect_error(await client.post(POOLS, json=body), 422, "CAPACITY_TYPE_NOT_ALLOWED")
    assert list(problem["fields"]) == ["capacity_types"]


@pytest.mark.usefixtures("cluster")
async def test_a_second_nodepool_with_the_same_id_in_a_cluster_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    await create_nodepool(client, "gpu-east", "a10-pool")
    body = {"id": "a10-pool", "instance_types": ["g5.2xlarge"]}
    expect_error(await client.post(POOLS, json=body), 409, "NODEPOOL_ALREADY_EXISTS")


@pytest.mark.usefixtures("cluster")
async def test_the_same_nodepool_id_may_be_used_in_another_cluster(
    client: httpx.AsyncClient,
) -> None:
    await create_cluster(client, "gpu-west", region="us-west-2")
    await create_nodepool(client, "gpu-east", "a10-pool")
    pool = await create_nodepool(client, "gpu-west", "a10-pool")
    assert pool["compute_cluster"] == "gpu-west"


async def test_a_nodepool_in_an_unknown_cluster_is_not_found(client: httpx.AsyncClient) -> None:
    body = {"id": "p", "instance_types": ["g5.xlarge"]}
    expect_error(
        await client.post("/v1/compute_clusters/nowhere/nodepools", json=body),
        404,
        "CLUSTER_NOT_FOUND",
    )
    expect_error(
        await client.get("/v1/compute_clusters/shared/nodepools/nope"), 404, "NODEPOOL_NOT_FOUND"
    )


@pytest.mark.usefixtures("cluster")
async def test_another_users_nodepool_does_not_exist_for_you(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await create_nodepool(client, "gpu-east", "a10-pool")
    path = f"{POOLS}/a10-pool"
    expect_error(await bob.get(path), 404, "CLUSTER_NOT_FOUND")
    expect_error(await bob.patch(path, json={"max_instances": 9}), 404, "CLUSTER_NOT_FOUND")
    expect_error(await bob.delete(path), 404, "CLUSTER_NOT_FOUND")
    expect_error(await bob.get(POOLS), 404, "CLUSTER_NOT_FOUND")
    expect_error(await bob.get(f"{path}/nodes"), 404, "CLUSTER_NOT_FOUND")
    pool = await ok(await client.get(path))
    assert pool["max_instances"] == 4  # untouched


@pytest.mark.usefixtures("cluster")
async def test_patch_changes_what_it_names_and_keeps_the_rest(client: httpx.AsyncClient) -> None:
    await create_nodepool(
        client, "gpu-east", "a10-pool", description="A10G", capacity_types=["spot", "on_demand"]
    )
    changed = await ok(await client.patch(f"{POOLS}/a10-pool", json={"max_instances": 8}))
    assert changed["max_instances"] == 8
    assert changed["min_instances"] == 0
    assert changed["description"] == "A10G"
    assert changed["capacity_types"] == ["spot", "on_demand"]
    assert changed["instance_types"] == ["g5.xlarge"]


@pytest.mark.usefixtures("cluster")
async def test_patch_with_null_resets_a_field_to_its_default(client: httpx.AsyncClient) -> None:
    await create_nodepool(client, capacity_types=["spot", "on_demand"], description="A10G")
    changed = await ok(
        await client.patch(f"{POOLS}/a10-pool", json={"capacity_types": None, "description": None})
    )
    assert changed["capacity_types"] == ["on_demand"]
    assert changed["description"] == ""


@pytest.mark.usefixtures("cluster")
async def test_patch_is_validated_as_a_whole_so_min_cannot_pass_the_existing_max(
    client: httpx.AsyncClient,
) -> None:
    await create_nodepool(client, max_instances=4)
    problem = expect_error(
        await client.patch(f"{POOLS}/a10-pool", json={"min_instances": 9}), 422, "INVALID_ARGUMENT"
    )
    assert set(problem["fields"]) == {"min_instances", "max_instances"}
    pool = await ok(await client.get(f"{POOLS}/a10-pool"))
    assert pool["min_instances"] == 0  # unchanged


@pytest.mark.usefixtures("cluster")
async def test_patch_checks_instance_types_against_the_catalog(client: httpx.AsyncClient) -> None:
    await create_nodepool(client)
    expect_error(
        await client.patch(f"{POOLS}/a10-pool", json={"instance_types": ["n2-standard-8"]}),
        422,
        "UNKNOWN_INSTANCE_TYPE",
    )


@pytest.mark.usefixtures("cluster")
async def test_changing_a_nodepools_id_is_rejected(client: httpx.AsyncClient) -> None:
    await create_nodepool(client)
    problem = expect_error(
        await client.patch(f"{POOLS}/a10-pool", json={"id": "renamed"}), 422, "FIELD_IMMUTABLE"
    )
    assert problem["fields"] == {"id": "immutable"}


@pytest.mark.usefixtures("cluster")
async def test_patch_with_an_unknown_field_is_rejected_naming_it(client: httpx.AsyncClient) -> None:
    await create_nodepool(client)
    problem = expect_error(
        await client.patch(f"{POOLS}/a10-pool", json={"max_nodes": 3}), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["max_nodes"]


@pytest.mark.usefixtures("cluster")
async def test_deleting_an_idle_nodepool_answers_202_and_it_leaves_the_list(
    client: httpx.AsyncClient,
) -> None:
    await create_nodepool(client)
    deleted = await ok(await client.delete(f"{POOLS}/a10-pool"), 202)
    assert deleted == {"id": "a10-pool", "status": "deleted"}
    assert (await ok(await client.get(POOLS)))["items"] == []
    expect_error(await client.get(f"{POOLS}/a10-pool"), 404, "NODEPOOL_NOT_FOUND")


@pytest.mark.usefixtures("cluster")
async def test_a_nodepool_with_a_running_node_shows_deleting_until_it_is_gone(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_nodepool(client)
    await add_running_node(ctx, "gpu-east", "a10-pool")
    first = await ok(await client.delete(f"{POOLS}/a10-pool"), 202)
    assert first == {"id": "a10-pool", "status": "deleting"}
    pool = await ok(await client.get(f"{POOLS}/a10-pool"))
    assert pool["status"] == "deleting"
    assert pool["nodes"]["ready"] == 1
    again = await ok(await client.delete(f"{POOLS}/a10-pool"), 202)
    assert again["status"] == "deleting"
    expect_error(
        await client.patch(f"{POOLS}/a10-pool", json={"max_instances": 1}), 409, "OBJECT_DELETING"
    )


@pytest.mark.usefixtures("cluster")
async def test_deleting_a_nodepool_a_deployment_uses_is_a_conflict_unless_cascading(
    client: httpx.AsyncClient,
) -> None:
    await create_nodepool(client)
    await upload_model(client)
    await create_deployment(
        client, nodepools=[{"compute_cluster": "gpu-east", "nodepool": "a10-pool"}]
    )
    problem = expect_error(await client.delete(f"{POOLS}/a10-pool"), 409, "NODEPOOL_IN_USE")
    assert problem["fields"] == {"deployments": "echo-prod"}
    await ok(await client.delete(f"{POOLS}/a10-pool?cascade=true"), 202)
    expect_error(await client.get("/v1/deployments/echo-prod"), 404, "DEPLOYMENT_NOT_FOUND")
    expect_error(await client.get(f"{POOLS}/a10-pool"), 404, "NODEPOOL_NOT_FOUND")


@pytest.mark.usefixtures("cluster")
async def test_nodes_are_listed_and_an_unknown_node_is_not_found(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_nodepool(client)
    assert (await ok(await client.get(f"{POOLS}/a10-pool/nodes")))["items"] == []
    await add_running_node(ctx, "gpu-east", "a10-pool")
    nodes = (await ok(await client.get(f"{POOLS}/a10-pool/nodes")))["items"]
    assert [(n["state"], n["instance_type"]) for n in nodes] == [("ready", "g5.xlarge")]
    node = await ok(await client.get(f"{POOLS}/a10-pool/nodes/{nodes[0]['id']}"))
    assert node["nodepool"] == "a10-pool"
    assert (await ok(await client.get(f"{POOLS}/a10-pool/nodes?state=draining")))["items"] == []
    expect_error(await client.get(f"{POOLS}/a10-pool/nodes/node-nope"), 404, "NODE_NOT_FOUND")
