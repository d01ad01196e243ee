"""/v1/compute_clusters: create, read, change, delete; the shared cluster; who sees what."""

from __future__ import annotations

import httpx
import pytest

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


async def test_the_shared_cluster_and_its_default_nodepool_exist_from_the_first_start(
    client: httpx.AsyncClient,
) -> None:
    shared = await ok(await client.get("/v1/compute_clusters/shared"))
    assert shared["cluster_type"] == "shared"
    assert shared["owner"] == "system"
    assert shared["cloud_provider"] == "local"
    assert shared["status"] == "active"
    default = await ok(await client.get("/v1/compute_clusters/shared/nodepools/default"))
    assert default["status"] == "ready"
    assert default["instance_types"] == ["local-small", "local-medium"]


async def test_every_user_sees_the_shared_cluster_and_its_default_nodepool(
    client: httpx.AsyncClient,
) -> None:
    bob = await create_user(client, "bob")
    clusters = await ok(await bob.get("/v1/compute_clusters"))
    assert [c["id"] for c in clusters["items"]] == ["shared"]
    pools = await ok(await bob.get("/v1/compute_clusters/shared/nodepools"))
    assert [p["id"] for p in pools["items"]] == ["default"]


async def test_only_an_admin_changes_the_shared_cluster(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    shared = "/v1/compute_clusters/shared"
    expect_error(await bob.patch(shared, json={"description": "mine"}), 403, "PERMISSION_DENIED")
    expect_error(
        await bob.patch(f"{shared}/nodepools/default", json={"max_instances": 9}),
        403,
        "PERMISSION_DENIED",
    )
    expect_error(
        await bob.post(
            f"{shared}/nodepools", json={"id": "big", "instance_types": ["local-large"]}
        ),
        403,
        "PERMISSION_DENIED",
    )
    expect_error(await bob.delete(f"{shared}/nodepools/default"), 403, "PERMISSION_DENIED")
    changed = await ok(await client.patch(shared, json={"description": "for everyone"}))
    assert changed["description"] == "for everyone"
    pool = await ok(await client.patch(f"{shared}/nodepools/default", json={"max_instances": 3}))
    assert pool["max_instances"] == 3


async def test_the_shared_cluster_cannot_be_deleted_even_by_an_admin(
    client: httpx.AsyncClient,
) -> None:
    expect_error(await client.delete("/v1/compute_clusters/shared"), 403, "PERMISSION_DENIED")
    await ok(await client.get("/v1/compute_clusters/shared"))


async def test_a_new_cluster_is_active_and_acts_with_the_callers_token(
    client: httpx.AsyncClient,
) -> None:
    cluster = await create_cluster(client, "gpu-east", description="vision team")
    assert cluster["status"] == "active"
    assert cluster["token_id"] == "admin"
    assert cluster["owner"] == "admin"
    assert cluster["cluster_type"] == "dedicated"
    assert cluster["managed_by"] == "flotilla"
    got = await ok(await client.get("/v1/compute_clusters/gpu-east"))
    assert got["description"] == "vision team"


@pytest.mark.parametrize("bad_id", ["-starts-with-dash", "has space", "a" * 65, "ünïcode", ""])
async def test_an_invalid_cluster_id_is_rejected_naming_the_id(
    client: httpx.AsyncClient, bad_id: str
) -> None:
    body = {"id": bad_id, "cloud_provider": "aws", "region": "us-east-1"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["id"]


async def test_an_invalid_id_in_the_path_is_rejected(client: httpx.AsyncClient) -> None:
    problem = expect_error(
        await client.get("/v1/compute_clusters/not%20an%20id"), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["path.cluster_id"]


async def test_an_unknown_cloud_provider_is_rejected_naming_it(client: httpx.AsyncClient) -> None:
    body = {"id": "c", "cloud_provider": "azure", "region": "eastus"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "UNKNOWN_CLOUD_PROVIDER"
    )
    assert list(problem["fields"]) == ["cloud_provider"]
    assert "aws" in str(problem["message"])  # says which providers exist


async def test_a_region_the_provider_does_not_have_is_rejected_naming_it(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "c", "cloud_provider": "aws", "region": "us-central1"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "UNKNOWN_REGION"
    )
    assert list(problem["fields"]) == ["region"]
    assert "us-east-1" in str(problem["message"])


async def test_an_unknown_field_is_rejected_naming_it(client: httpx.AsyncClient) -> None:
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1", "colour": "blue"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "INVALID_ARGUMENT"
    )
    assert problem["fields"] == {"colour": "unknown field; remove it (check its spelling)"}


async def test_text_with_a_nul_character_is_rejected_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1", "description": "a\x00b"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["description"]


async def test_a_missing_required_field_is_named(client: httpx.AsyncClient) -> None:
    body = {"id": "c", "cloud_provider": "aws"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "INVALID_ARGUMENT"
    )
    assert problem["fields"] == {"region": "required"}


async def test_a_second_cluster_with_the_same_id_is_a_conflict(client: httpx.AsyncClient) -> None:
    await create_cluster(client, "gpu-east")
    body = {"id": "gpu-east", "cloud_provider": "gcp", "region": "us-central1"}
    expect_error(
        await client.post("/v1/compute_clusters", json=body), 409, "CLUSTER_ALREADY_EXISTS"
    )


async def test_a_cluster_cannot_take_the_shared_clusters_id(client: httpx.AsyncClient) -> None:
    body = {"id": "shared", "cloud_provider": "aws", "region": "us-east-1"}
    expect_error(
        await client.post("/v1/compute_clusters", json=body), 409, "CLUSTER_ALREADY_EXISTS"
    )


async def test_a_second_shared_cluster_cannot_be_created(client: httpx.AsyncClient) -> None:
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1", "cluster_type": "shared"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["cluster_type"]


async def test_two_users_may_each_have_a_cluster_of_the_same_id(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await create_cluster(client, "gpu-east")
    bobs = await create_cluster(bob, "gpu-east", region="us-west-2")
    assert bobs["owner"] == "bob"
    mine = await ok(await client.get("/v1/compute_clusters/gpu-east"))
    assert mine["region"] == "us-east-1"


async def test_another_users_cluster_does_not_exist_for_you(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await create_cluster(client, "gpu-east")
    path = "/v1/compute_clusters/gpu-east"
    expect_error(await bob.get(path), 404, "CLUSTER_NOT_FOUND")
    expect_error(await bob.patch(path, json={"description": "mine"}), 404, "CLUSTER_NOT_FOUND")
    expect_error(await bob.delete(path), 404, "CLUSTER_NOT_FOUND")
    listed = await ok(await bob.get("/v1/compute_clusters"))
    assert "gpu-east" not in [c["id"] for c in listed["items"]]
    await ok(await client.get(path))  # untouched


async def test_patch_changes_what_it_names_and_keeps_the_rest(client: httpx.AsyncClient) -> None:
    await create_cluster(client, "gpu-east", description="before")
    changed = await ok(
        await client.patch("/v1/compute_clusters/gpu-east", json={"description": "after"})
    )
    assert changed["description"] == "after"
    assert (changed["cloud_provider"], changed["region"]) == ("aws", "us-east-1")
    assert changed["token_id"] == "admin"


async def test_patch_with_null_resets_a_field_to_its_default(client: httpx.AsyncClient) -> None:
    await create_cluster(client, "gpu-east", description="before")
    changed = await ok(
        await client.patch("/v1/compute_clusters/gpu-east", json={"description": None})
    )
    assert changed["description"] == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [("region", "us-west-2"), ("cloud_provider", "gcp"), ("cluster_type", "self_managed")],
)
async def test_changing_an_immutable_field_is_rejected_naming_it(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    await create_cluster(client, "gpu-east")
    problem = expect_error(
        await client.patch("/v1/compute_clusters/gpu-east", json={field: value}),
        422,
        "FIELD_IMMUTABLE",
    )
    assert problem["fields"] == {field: "immutable"}


async def test_patch_repeating_an_immutable_fields_value_is_fine(client: httpx.AsyncClient) -> None:
    await create_cluster(client, "gpu-east")
    body = {"region": "us-east-1", "description": "same region"}
    changed = await ok(await client.patch("/v1/compute_clusters/gpu-east", json=body))
    assert changed["description"] == "same region"


async def test_deleting_an_idle_cluster_answers_202_and_it_leaves_the_list(
    client: httpx.AsyncClient,
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    deleted = await ok(await client.delete("/v1/compute_clusters/gpu-east"), 202)
    assert deleted == {"id": "gpu-east", "status": "deleted"}
    expect_error(await client.get("/v1/compute_clusters/gpu-east"), 404, "CLUSTER_NOT_FOUND")
    listed = await ok(await client.get("/v1/compute_clusters"))
    assert [c["id"] for c in listed["items"]] == ["shared"]


async def test_a_cluster_with_running_nodes_shows_deleting_and_deleting_again_is_not_an_error(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await add_running_node(ctx, "gpu-east", "a10-pool")
    first = await ok(await client.delete("/v1/compute_clusters/gpu-east"), 202)
    assert first["status"] == "deleting"
    got = await ok(await client.get("/v1/compute_clusters/gpu-east"))
    assert got["status"] == "deleting"
    pool = await ok(await client.get("/v1/compute_clusters/gpu-east/nodepools/a10-pool"))
    assert pool["status"] == "deleting"
    again = await ok(await client.delete("/v1/compute_clusters/gpu-east"), 202)
    assert again["status"] == "deleting"


async def test_a_cluster_being_deleted_can_be_read_but_not_changed(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await add_running_node(ctx, "gpu-east", "a10-pool")
    await ok(await client.delete("/v1/compute_clusters/gpu-east"), 202)
    expect_error(
        await client.patch("/v1/compute_clusters/gpu-east", json={"description": "x"}),
        409,
        "OBJECT_DELETING",
    )
    body = {"id": "more", "instance_types": ["g5.xlarge"]}
    expect_error(
        await client.post("/v1/compute_clusters/gpu-east/nodepools", json=body),
        409,
        "OBJECT_DELETING",
    )


async def _cluster_with_a_deployment(client: httpx.AsyncClient) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await upload_model(client, "echo")
    await create_deployment(
        client, "echo-prod", nodepools=[{"compute_cluster": "gpu-east", "nodepool": "a10-pool"}]
    )


async def test_deleting_a_cluster_that_still_has_deployments_is_a_conflict_naming_them(
    client: httpx.AsyncClient,
) -> None:
    await _cluster_with_a_deployment(client)
    problem = expect_error(
        await client.delete("/v1/compute_clusters/gpu-east"), 409, "CLUSTER_HAS_DEPLOYMENTS"
    )
    assert problem["fields"] == {"deployments": "echo-prod"}
    assert "cascade=true" in str(problem["message"])
    await ok(await client.get("/v1/compute_clusters/gpu-east"))
    await ok(await client.get("/v1/deployments/echo-prod"))


async def test_deleting_a_cluster_with_cascade_deletes_its_deployments_too(
    client: httpx.AsyncClient,
) -> None:
    await _cluster_with_a_deployment(client)
    await ok(await client.delete("/v1/compute_clusters/gpu-east?cascade=true"), 202)
    expect_error(await client.get("/v1/deployments/echo-prod"), 404, "DEPLOYMENT_NOT_FOUND")
    assert (await ok(await client.get("/v1/deployments")))["items"] == []
    expect_error(await client.get("/v1/compute_clusters/gpu-east"), 404, "CLUSTER_NOT_FOUND")


async def test_a_self_managed_cluster_has_nodepools_without_instance_types(
    client: httpx.AsyncClient,
) -> None:
    cluster = await create_cluster(
        client,
        "on-prem",
        cluster_type="self_managed",
        cloud_provider="self_managed",
        region="default",
    )
    assert cluster["managed_by"] == "user"
    pool = await create_nodepool(client, "on-prem", "racks", instance_types=[])
    assert pool["instance_types"] == []
    body = {"id": "typed", "instance_types": ["g5.xlarge"]}
    problem = expect_error(
        await client.post("/v1/compute_clusters/on-prem/nodepools", json=body),
        422,
        "INVALID_ARGUMENT",
    )
    assert list(problem["fields"]) == ["instance_types"]


async def test_a_dedicated_cluster_cannot_use_the_self_managed_provider(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "c", "cloud_provider": "self_managed", "region": "default"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["cluster_type"]
