"""/v1/deployments: where a model runs, its autoscaling, merge patch, deletes, filters."""

from __future__ import annotations

import httpx
import pytest

from flotilla.services.context import Context
from tests.factories import (
    add_running_replica,
    create_cluster,
    create_deployment,
    create_nodepool,
    create_user,
    expect_error,
    ok,
    upload_model,
)

SHARED_DEFAULT = {"compute_cluster": "shared", "nodepool": "default", "priority": 0}
ON_A10 = [{"compute_cluster": "gpu-east", "nodepool": "a10-pool", "priority": 5}]


@pytest.fixture
async def model(client: httpx.AsyncClient) -> dict[str, object]:
    return await upload_model(client, "echo")


@pytest.fixture
async def a10_pool(client: httpx.AsyncClient) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")


@pytest.mark.usefixtures("model")
async def test_a_deployment_naming_no_nodepool_runs_on_the_shared_default_nodepool(
    client: httpx.AsyncClient,
) -> None:
    deployment = await create_deployment(client, "echo-prod")
    assert deployment["nodepools"] == [SHARED_DEFAULT]
    assert deployment["status"] == "enabled"


async def test_any_user_may_deploy_to_the_shared_cluster(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await upload_model(bob, "echo")
    deployment = await create_deployment(bob, "echo-prod")
    assert deployment["nodepools"] == [SHARED_DEFAULT]
    assert deployment["owner"] == "bob"


async def test_a_new_deployment_follows_the_latest_version_with_default_autoscaling(
    client: httpx.AsyncClient, model: dict[str, object]
) -> None:
    deployment = await create_deployment(client, "echo-prod")
    assert deployment["model"] == "echo"
    assert deployment["model_version"] == "latest"
    assert deployment["resolved_model_version"] == model["id"]
    assert deployment["scheduling_choice"] == "priority"
    assert deployment["autoscale_config"] == {
        "min_replicas": 0,
        "max_replicas": 5,
        "target_concurrency": 4.0,
        "traffic_history_seconds": 300,
        "scale_up_delay_seconds": 0,
        "scale_down_delay_seconds": 300,
        "scale_to_zero_delay_seconds": 1800,
        "warmup_seconds": 120,
        "burst_memory_seconds": 10800,
        "disable_packing": False,
    }
    assert deployment["replicas"] == {}


@pytest.mark.usefixtures("model", "a10_pool")
async def test_a_deployment_runs_on_the_nodepools_it_names_with_their_priorities(
    client: httpx.AsyncClient,
) -> None:
    nodepools = [*ON_A10, SHARED_DEFAULT]
    deployment = await create_deployment(client, "echo-prod", nodepools=nodepools)
    assert deployment["nodepools"] == nodepools
    got = await ok(await client.get("/v1/deployments/echo-prod"))
    assert got["nodepools"] == nodepools


async def test_a_deployment_of_an_unknown_model_is_not_found(client: httpx.AsyncClient) -> None:
    body = {"id": "d", "model": "nothing"}
    expect_error(await client.post("/v1/deployments", json=body), 404, "MODEL_NOT_FOUND")


async def test_a_deployment_of_a_model_without_versions_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    await ok(await client.post("/v1/models", json={"id": "empty"}), 201)
    body = {"id": "d", "model": "empty"}
    expect_error(await client.post("/v1/deployments", json=body), 409, "MODEL_HAS_NO_VERSIONS")


@pytest.mark.usefixtures("model")
async def test_a_deployment_of_an_unknown_version_is_not_found(client: httpx.AsyncClient) -> None:
    body = {"id": "d", "model": "echo", "model_version": "abc"}
    expect_error(await client.post("/v1/deployments", json=body), 404, "MODEL_VERSION_NOT_FOUND")


@pytest.mark.usefixtures("model")
async def test_an_unknown_nodepool_is_not_found_naming_its_place_in_the_list(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "id": "d",
        "model": "echo",
        "nodepools": [SHARED_DEFAULT, {"compute_cluster": "shared", "nodepool": "nope"}],
    }
    problem = expect_error(
        await client.post("/v1/deployments", json=body), 404, "NODEPOOL_NOT_FOUND"
    )
    assert problem["fields"] == {"nodepools.1": "not found"}


async def test_a_model_too_large_for_every_instance_type_of_the_nodepool_does_not_fit(
    client: httpx.AsyncClient,
) -> None:
    await upload_model(client, "big", accelerators=1)  # the shared nodepool has no GPUs
    problem = expect_error(
        await client.post("/v1/deployments", json={"id": "d", "model": "big"}),
        422,
        "MODEL_DOES_NOT_FIT",
    )
    assert list(problem["fields"]) == ["nodepools.0"]


@pytest.mark.usefixtures("model")
async def test_min_replicas_above_max_is_rejected_naming_both_fields(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "d", "model": "echo", "autoscale_config": {"min_replicas": 4, "max_replicas": 2}}
    problem = expect_error(await client.post("/v1/deployments", json=body), 422, "INVALID_ARGUMENT")
    assert set(problem["fields"]) == {
        "autoscale_config.min_replicas",
        "autoscale_config.max_replicas",
    }


@pytest.mark.usefixtures("model")
async def test_scale_to_zero_sooner_than_scale_down_is_rejected(client: httpx.AsyncClient) -> None:
    config = {"scale_down_delay_seconds": 600, "scale_to_zero_delay_seconds": 60}
    body = {"id": "d", "model": "echo", "autoscale_config": config}
    problem = expect_error(await client.post("/v1/deployments", json=body), 422, "INVALID_ARGUMENT")
    assert set(problem["fields"]) == {
        "autoscale_config.scale_to_zero_delay_seconds",
        "autoscale_config.scale_down_delay_seconds",
    }


@pytest.mark.usefixtures("model")
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"min_replicas": -1}, "autoscale_config.min_replicas"),
        ({"scale_up_delay_seconds": -5}, "autoscale_config.scale_up_delay_seconds"),
        ({"target_concurrency": 0}, "autoscale_config.target_concurrency"),
        ({"max_replicas": "3"}, "autoscale_config.max_replicas"),
        ({"disable_packing": 1}, "autoscale_config.disable_packing"),
        ({"max_pods": 3}, "autoscale_config.max_pods"),
    ],
)
async def test_a_bad_autoscale_setting_is_rejected_naming_it(
    client: httpx.AsyncClient, config: dict[str, object], field: str
) -> None:
    body = {"id": "d", "model": "echo", "autoscale_config": config}
    problem = expect_error(await client.post("/v1/deployments", json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == [field]


@pytest.mark.usefixtures("model")
async def test_a_priority_outside_0_to_9_is_rejected(client: httpx.AsyncClient) -> None:
    body = {"id": "d", "model": "echo", "nodepools": [{**SHARED_DEFAULT, "priority": 10}]}
    problem = expect_error(await client.post("/v1/deployments", json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == ["nodepools.0.priority"]


@pytest.mark.usefixtures("model")
async def test_naming_the_same_nodepool_twice_is_rejected(client: httpx.AsyncClient) -> None:
    body = {"id": "d", "model": "echo", "nodepools": [SHARED_DEFAULT, SHARED_DEFAULT]}
    problem = expect_error(await client.post("/v1/deployments", json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == ["nodepools"]


@pytest.mark.usefixtures("model")
async def test_a_deployment_cannot_be_created_deleting(client: httpx.AsyncClient) -> None:
    body = {"id": "d", "model": "echo", "status": "deleting"}
    problem = expect_error(await client.post("/v1/deployments", json=body), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == ["status"]


@pytest.mark.usefixtures("model")
async def test_a_second_deployment_with_the_same_id_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    await create_deployment(client, "echo-prod")
    expect_error(
        await client.post("/v1/deployments", json={"id": "echo-prod", "model": "echo"}),
        409,
        "DEPLOYMENT_ALREADY_EXISTS",
    )


@pytest.mark.usefixtures("model", "a10_pool")
async def test_another_users_deployment_does_not_exist_for_you(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await create_deployment(client, "echo-prod", nodepools=ON_A10)
    path = "/v1/deployments/echo-prod"
    expect_error(await bob.get(path), 404, "DEPLOYMENT_NOT_FOUND")
    expect_error(await bob.patch(path, json={"status": "disabled"}), 404, "DEPLOYMENT_NOT_FOUND")
    expect_error(await bob.delete(path), 404, "DEPLOYMENT_NOT_FOUND")
    expect_error(await bob.get(f"{path}/replicas"), 404, "DEPLOYMENT_NOT_FOUND")
    assert (await ok(await bob.get("/v1/deployments")))["items"] == []
    assert (await ok(await client.get(path)))["status"] == "enabled"


@pytest.mark.usefixtures("model", "a10_pool")
async def test_another_users_nodepool_cannot_be_named(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await upload_model(bob, "echo")
    body = {"id": "d", "model": "echo", "nodepools": ON_A10}
    expect_error(await bob.post("/v1/deployments", json=body), 404, "CLUSTER_NOT_FOUND")


@pytest.mark.usefixtures("model")
async def test_patch_merges_autoscale_config_key_by_key(client: httpx.AsyncClient) -> None:
    await create_deployment(
        client,
        "echo-prod",
        description="prod",
        autoscale_config={"min_replicas": 1, "scale_down_delay_seconds": 120},
    )
    changed = await ok(
        await client.patch(
            "/v1/deployments/echo-prod", json={"autoscale_config": {"max_replicas": 9}}
        )
    )
    config = changed["autoscale_config"]
    assert (config["min_replicas"], config["max_replicas"]) == (1, 9)
    assert config["scale_down_delay_seconds"] == 120
    assert changed["description"] == "prod"  # omitted: stays


@pytest.mark.usefixtures("model")
async def test_patch_with_null_resets_a_nested_field_to_its_default(
    client: httpx.AsyncClient,
) -> None:
    await create_deployment(
        client, "echo-prod", autoscale_config={"scale_down_delay_seconds": 120, "max_replicas": 3}
    )
    changed = await ok(
        await client.patch(
            "/v1/deployments/echo-prod",
            json={"autoscale_config": {"scale_down_delay_seconds": None}},
        )
    )
    assert changed["autoscale_config"]["scale_down_delay_seconds"] == 300
    assert changed["autoscale_config"]["max_replicas"] == 3


@pytest.mark.usefixtures("model")
async def test_patching_only_scale_down_delay_above_scale_to_zero_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    await create_deployment(client, "echo-prod")  # scale to zero after 1800 s
    problem = expect_error(
        await client.patch(
            "/v1/deployments/echo-prod",
            json={"autoscale_config": {"scale_down_delay_seconds": 3600}},
        ),
        422,
        "INVALID_ARGUMENT",
    )
    assert "autoscale_config.scale_down_delay_seconds" in problem["fields"]
    got = await ok(await client.get("/v1/deployments/echo-prod"))
    assert got["autoscale_config"]["scale_down_delay_seconds"] == 300  # unchanged


@pytest.mark.usefixtures("model", "a10_pool")
async def test_patch_replaces_the_nodepool_list_whole(client: httpx.AsyncClient) -> None:
    await create_deployment(client, "echo-prod", nodepools=[*ON_A10, SHARED_DEFAULT])
    changed = await ok(
        await client.patch("/v1/deployments/echo-prod", json={"nodepools": [SHARED_DEFAULT]})
    )
    assert changed["nodepools"] == [SHARED_DEFAULT]
    listed = await ok(await client.get("/v1/deployments?compute_cluster=gpu-east"))
    assert listed["items"] == []


@pytest.mark.usefixtures("model")
async def test_patch_disables_and_enables_a_deployment(client: httpx.AsyncClient) -> None:
    await create_deployment(client, "echo-prod")
    off = await ok(await client.patch("/v1/deployments/echo-prod", json={"status": "disabled"}))
    assert off["status"] == "disabled"
    on = await ok(await client.patch("/v1/deployments/echo-prod", json={"status": "enabled"}))
    assert on["status"] == "enabled"


@pytest.mark.usefixtures("model")
async def test_changing_a_deployments_model_is_rejected(client: httpx.AsyncClient) -> None:
    await create_deployment(client, "echo-prod")
    problem = expect_error(
        await client.patch("/v1/deployments/echo-prod", json={"model": "other"}),
        422,
        "FIELD_IMMUTABLE",
    )
    assert problem["fields"] == {"model": "immutable"}


@pytest.mark.usefixtures("model")
async def test_a_deployment_follows_a_new_version_when_it_tracks_latest(
    client: httpx.AsyncClient,
) -> None:
    first = await create_deployment(client, "echo-prod")
    newer = await upload_model(client, "echo", cpu="500m")
    assert newer["id"] != first["resolved_model_version"]
    got = await ok(await client.get("/v1/deployments/echo-prod"))
    assert got["resolved_model_version"] == newer["id"]


@pytest.mark.usefixtures("model")
async def test_deleting_an_idle_deployment_answers_202_and_it_leaves_the_list(
    client: httpx.AsyncClient,
) -> None:
    await create_deployment(client, "echo-prod")
    deleted = await ok(await client.delete("/v1/deployments/echo-prod"), 202)
    assert deleted == {"id": "echo-prod", "status": "deleted"}
    assert (await ok(await client.get("/v1/deployments")))["items"] == []
    expect_error(await client.get("/v1/deployments/echo-prod"), 404, "DEPLOYMENT_NOT_FOUND")


@pytest.mark.usefixtures("model")
async def test_a_deployment_with_running_replicas_shows_deleting_and_deleting_again_is_fine(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_deployment(client, "echo-prod")
    await add_running_replica(ctx, "echo-prod")
    first = await ok(await client.delete("/v1/deployments/echo-prod"), 202)
    assert first == {"id": "echo-prod", "status": "deleting"}
    got = await ok(await client.get("/v1/deployments/echo-prod"))
    assert got["status"] == "deleting"
    assert got["replicas"] == {"ready": 1}
    again = await ok(await client.delete("/v1/deployments/echo-prod"), 202)
    assert again["status"] == "deleting"
    expect_error(
        await client.patch("/v1/deployments/echo-prod", json={"status": "disabled"}),
        409,
        "OBJECT_DELETING",
    )


@pytest.mark.usefixtures("model")
async def test_replicas_are_listed_with_their_state(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_deployment(client, "echo-prod")
    assert (await ok(await client.get("/v1/deployments/echo-prod/replicas")))["items"] == []
    await add_running_replica(ctx, "echo-prod")
    replicas = (await ok(await client.get("/v1/deployments/echo-prod/replicas")))["items"]
    assert [(r["deployment"], r["state"]) for r in replicas] == [("echo-prod", "ready")]


@pytest.mark.usefixtures("a10_pool")
async def test_deployments_are_listed_by_cluster_nodepool_and_model(
    client: httpx.AsyncClient,
) -> None:
    await upload_model(client, "echo")
    await upload_model(client, "other")
    await create_deployment(client, "a", "echo", nodepools=ON_A10)
    await create_deployment(client, "b", "echo")
    await create_deployment(client, "c", "other", nodepools=[*ON_A10, SHARED_DEFAULT])

    async def ids(query: str) -> list[str]:
        page = await ok(await client.get(f"/v1/deployments{query}"))
        return [d["id"] for d in page["items"]]

    assert await ids("") == ["a", "b", "c"]
    assert await ids("?compute_cluster=gpu-east") == ["a", "c"]
    assert await ids("?nodepool=default") == ["b", "c"]
    assert await ids("?model=other") == ["c"]
    assert await ids("?model=echo&compute_cluster=shared") == ["b"]
    assert await ids("?compute_cluster=nowhere") == []


@pytest.mark.parametrize("query", ["model=a%00b", "compute_cluster=no%20such%20id", "nodepool="])
async def test_a_list_filter_that_is_not_an_id_is_rejected_naming_it(
    client: httpx.AsyncClient, query: str
) -> None:
    problem = expect_error(await client.get(f"/v1/deployments?{query}"), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == [f"query.{query.split('=')[0]}"]
