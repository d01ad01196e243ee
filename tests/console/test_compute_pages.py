"""Compute pages: overview, create cluster → create nodepool → cluster page, nodepool page,
deletes. Form errors are the API's own, beside their fields."""

from __future__ import annotations

import httpx

from flotilla.services.context import Context
from tests.console.browsing import console_client, field_error, sign_in, submit, text_of
from tests.console.conftest import Console
from tests.factories import (
    add_running_node,
    create_cluster,
    create_deployment,
    create_nodepool,
    create_user,
    upload_model,
)

CLUSTER = {
    "id": "gpu-east",
    "cluster_type": "dedicated",
    "cloud_provider": "aws",
    "region": "us-east-1",
}


async def test_the_overview_shows_clusters_with_nodepools_nodes_and_a_create_button(
    console: Console, client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool", max_instances=4)
    await add_running_node(ctx, "gpu-east", "a10-pool")
    page = await console.http.get("/console")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Create a new cluster" in text
    assert "gpu-east" in text and "a10-pool" in text and "shared" in text
    assert "1 ready (min 0, max 4)" in text
    assert "cost so far" in text


async def test_the_create_cluster_form_offers_providers_regions_and_usable_tokens(
    console: Console,
) -> None:
    page = await console.http.get("/console/new/cluster")
    assert page.status_code == 200
    assert '<option value="us-east-1" data-provider="aws"' in page.text
    assert 'value="self_managed"' in page.text  # the type, not a provider choice
    assert '<option value="self_managed"' not in page.text
    assert 'id="type-shared" disabled' in page.text
    assert "Create new Personal Access Token" in page.text
    assert "— the one you signed in with" in page.text


async def test_creating_a_cluster_continues_to_its_first_nodepool(console: Console) -> None:
    response = await submit(console.http, "/console/clusters", console.csrf, CLUSTER)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/clusters/gpu-east/new/nodepool"
    form = await console.http.get(response.headers["location"])
    text = text_of(form.text)
    assert "Cluster 'gpu-east' created" in text
    assert "g5.xlarge" in text and "NVIDIA-A10G" in text  # aws/us-east-1 types with their GPUs
    assert "cold start" in text and "falls back to on-demand" in text


async def test_a_bad_cluster_id_shows_the_apis_message_beside_the_field(
    console: Console, client: httpx.AsyncClient
) -> None:
    bad = {**CLUSTER, "id": "-bad id"}
    page = await submit(console.http, "/console/clusters", console.csrf, bad)
    api = await client.post("/v1/compute_clusters", json=bad)
    assert page.status_code == api.status_code == 422
    assert field_error(page.text, "id") == api.json()["error"]["fields"]["id"]
    assert 'aria-invalid="true"' in page.text
    assert 'value="-bad id"' in page.text  # what was typed stays


async def test_an_unknown_region_is_reported_at_the_region_picker(
    console: Console, client: httpx.AsyncClient
) -> None:
    bad = {**CLUSTER, "region": "mars-1"}
    page = await submit(console.http, "/console/clusters", console.csrf, bad)
    api = await client.post("/v1/compute_clusters", json=bad)
    assert page.status_code == 422
    assert field_error(page.text, "region") == api.json()["error"]["fields"]["region"]


async def test_a_self_managed_cluster_needs_no_provider(console: Console) -> None:
    data = {"id": "my-boxes", "cluster_type": "self_managed", "cloud_provider": "aws"}
    response = await submit(console.http, "/console/clusters", console.csrf, data)
    assert response.status_code == 303
    page = await console.http.get("/console/clusters/my-boxes")
    assert "self managed" in text_of(page.text)


async def test_nodepool_min_above_max_shows_the_apis_message_at_both_fields(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    data = {"id": "p", "min_instances": "3", "max_instances": "2", "instance_types": "g5.xlarge"}
    page = await submit(console.http, "/console/clusters/gpu-east/nodepools", console.csrf, data)
    api = await client.post(
        "/v1/compute_clusters/gpu-east/nodepools",
        json={"id": "p", "min_instances": 3, "max_instances": 2, "instance_types": ["g5.xlarge"]},
    )
    assert page.status_code == 422
    fields = api.json()["error"]["fields"]
    assert field_error(page.text, "min_instances") == fields["min_instances"]
    assert field_error(page.text, "max_instances") == fields["max_instances"]


async def test_a_word_for_a_number_gets_the_apis_message(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    data = {"id": "p", "min_instances": "many", "max_instances": "2", "instance_types": "g5.xlarge"}
    page = await submit(console.http, "/console/clusters/gpu-east/nodepools", console.csrf, data)
    api = await client.post(
        "/v1/compute_clusters/gpu-east/nodepools",
        json={"id": "p", "min_instances": "many", "max_instances": 2},
    )
    assert field_error(page.text, "min_instances") == api.json()["error"]["fields"]["min_instances"]


async def test_without_the_spot_switch_a_nodepool_is_on_demand_only(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    data = {"id": "p", "min_instances": "0", "max_instances": "1", "instance_types": "g5.xlarge"}
    response = await submit(
        console.http, "/console/clusters/gpu-east/nodepools", console.csrf, data
    )
    assert response.status_code == 303
    api = await client.get("/v1/compute_clusters/gpu-east/nodepools/p")
    assert api.json()["capacity_types"] == ["on_demand"]


async def test_creating_a_nodepool_leads_to_the_cluster_page(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    data = {
        "id": "a10-pool",
        "min_instances": "0",
        "max_instances": "4",
        "instance_types": ["g5.xlarge", "g5.2xlarge"],
        "spot": "on",
    }
    response = await submit(
        console.http, "/console/clusters/gpu-east/nodepools", console.csrf, data
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/clusters/gpu-east"
    api = await client.get("/v1/compute_clusters/gpu-east/nodepools/a10-pool")
    assert api.json()["capacity_types"] == ["spot", "on_demand"]
    assert api.json()["instance_types"] == ["g5.xlarge", "g5.2xlarge"]
    page = await console.http.get("/console/clusters/gpu-east")
    text = text_of(page.text)
    assert "Nodepool 'a10-pool' created" in text
    assert "spot, then on demand" in text


async def test_the_nodepool_page_shows_type_shapes_nodes_deployments_and_events(
    console: Console, client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await add_running_node(ctx, "gpu-east", "a10-pool")
    await upload_model(client, "echo")
    await create_deployment(
        client, "echo-prod", nodepools=[{"compute_cluster": "gpu-east", "nodepool": "a10-pool"}]
    )
    page = await console.http.get("/console/clusters/gpu-east/nodepools/a10-pool")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "dedicated · aws/us-east-1" in text
    assert "g5.xlarge 4 16Gi 1 × NVIDIA-A10G" in text
    assert "ready on demand g5.xlarge" in text  # the node: state, capacity type, type
    assert "$1.00" in text  # its price per hour
    assert "echo-prod" in text
    assert "NODEPOOL_CREATED" in text


async def test_a_live_fragment_is_just_that_part_of_the_page(
    console: Console, client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    before = await console.http.get("/console/clusters/gpu-east/nodepools/a10-pool?fragment=nodes")
    await add_running_node(ctx, "gpu-east", "a10-pool")
    after = await console.http.get("/console/clusters/gpu-east/nodepools/a10-pool?fragment=nodes")
    assert before.status_code == after.status_code == 200
    assert "<html" not in after.text and "<table>" in after.text
    assert "No nodes" in before.text and "g5.xlarge" in after.text
    missing = await console.http.get("/console/clusters/gpu-east?fragment=nope")
    assert missing.status_code == 404


async def test_deleting_a_cluster_needs_its_id_typed(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    wrong = await submit(
        console.http, "/console/clusters/gpu-east/delete", console.csrf, {"confirm": "gpu"}
    )
    assert wrong.status_code == 422
    assert field_error(wrong.text, "confirm") == "type 'gpu-east' exactly"
    assert (await client.get("/v1/compute_clusters/gpu-east")).status_code == 200
    right = await submit(
        console.http, "/console/clusters/gpu-east/delete", console.csrf, {"confirm": "gpu-east"}
    )
    assert right.status_code == 303
    assert (await client.get("/v1/compute_clusters/gpu-east")).status_code == 404


async def test_a_cluster_in_use_is_kept_unless_its_deployments_go_too(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await upload_model(client, "echo")
    await create_deployment(
        client, "echo-prod", nodepools=[{"compute_cluster": "gpu-east", "nodepool": "a10-pool"}]
    )
    refused = await submit(
        console.http, "/console/clusters/gpu-east/delete", console.csrf, {"confirm": "gpu-east"}
    )
    assert refused.status_code == 409
    assert "CLUSTER_HAS_DEPLOYMENTS" in refused.text and "echo-prod" in refused.text
    cascade = await submit(
        console.http,
        "/console/clusters/gpu-east/delete",
        console.csrf,
        {"confirm": "gpu-east", "cascade": "on"},
    )
    assert cascade.status_code == 303
    assert (await client.get("/v1/deployments/echo-prod")).status_code == 404


async def test_deleting_a_nodepool_needs_its_id_typed(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    url = "/console/clusters/gpu-east/nodepools/a10-pool/delete"
    assert (await submit(console.http, url, console.csrf, {"confirm": ""})).status_code == 422
    done = await submit(console.http, url, console.csrf, {"confirm": "a10-pool"})
    assert done.status_code == 303
    assert done.headers["location"] == "/console/clusters/gpu-east"


async def test_the_shared_cluster_has_no_delete_form(console: Console) -> None:
    page = await console.http.get("/console/clusters/shared")
    assert page.status_code == 200
    assert "Delete this cluster" not in page.text


async def test_another_user_sees_none_of_the_first_users_clusters(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    await create_cluster(client, "admins-cluster")
    await create_nodepool(client, "admins-cluster", "admins-pool")
    bob = await create_user(client, "bob")
    secret = bob.headers["Authorization"].removeprefix("Bearer ")
    async with console_client(client) as http:
        await sign_in(http, secret)
        overview = await http.get("/console")
        deploy_form = await http.get("/console/new/deployment")
        cluster = await http.get("/console/clusters/admins-cluster")
        pool = await http.get("/console/clusters/admins-cluster/nodepools/admins-pool")
    assert "shared" in text_of(overview.text)
    for page in (overview, deploy_form):
        assert "admins-cluster" not in page.text
    assert cluster.status_code == pool.status_code == 404
    assert "no compute cluster &#39;admins-cluster&#39;" in cluster.text


async def test_the_live_poller_gets_every_region_of_a_page_in_one_request(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    response = await console.http.get(
        "/console/clusters/gpu-east?fragments=status,nodepools,events",
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 200
    blocks = response.json()
    assert set(blocks) == {"status", "nodepools", "events"}
    assert "active" in blocks["status"] and "CLUSTER_CREATED" in blocks["events"]


async def test_pages_may_not_be_framed_and_run_only_the_consoles_own_files(
    console: Console,
) -> None:
    page = await console.http.get("/console")
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    script = await console.http.get("/console/static/console.js")
    style = await console.http.get("/console/static/console.css")
    assert script.status_code == style.status_code == 200
    assert "startLiveRegions" in script.text
