"""/v1/apply: documents create what is missing and update what differs, all or nothing;
Clarifai's own config files are accepted."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.factories import as_token, create_token, expect_error, ok, upload_model

YAML = {"Content-Type": "application/yaml"}
CLARIFAI = Path("/work/shared/examples/clarifai")
DOCUMENTS = """
compute_cluster:
  id: gpu-east
  cloud_provider: aws
  region: us-east-1
---
nodepool:
  id: a10-pool
  compute_cluster: gpu-east
  instance_types: [g5.xlarge]
  capacity_types: [spot, on_demand]
  max_instances: 4
---
deployment:
  id: echo-prod
  model: echo
  nodepools:
    - {compute_cluster: gpu-east, nodepool: a10-pool, priority: 5}
  autoscale_config: {max_replicas: 3}
"""


async def apply(
    client: httpx.AsyncClient, text: str, query: str = "", status: int = 200
) -> list[tuple[str, str, str]]:
    answer = await ok(await client.post(f"/v1/apply{query}", content=text, headers=YAML), status)
    return [(r["kind"], r["id"], r["action"]) for r in answer["results"]]


@pytest.fixture
async def echo(client: httpx.AsyncClient) -> None:
    await upload_model(client, "echo")


@pytest.mark.usefixtures("echo")
async def test_applying_documents_creates_each_object(client: httpx.AsyncClient) -> None:
    assert await apply(client, DOCUMENTS) == [
        ("compute_cluster", "gpu-east", "created"),
        ("nodepool", "a10-pool", "created"),
        ("deployment", "echo-prod", "created"),
    ]
    pool = await ok(await client.get("/v1/compute_clusters/gpu-east/nodepools/a10-pool"))
    assert pool["capacity_types"] == ["spot", "on_demand"]
    deployment = await ok(await client.get("/v1/deployments/echo-prod"))
    assert deployment["autoscale_config"]["max_replicas"] == 3


@pytest.mark.usefixtures("echo")
async def test_applying_the_same_documents_again_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await apply(client, DOCUMENTS)
    before = await ok(await client.get("/v1/events"))
    assert [action for _, _, action in await apply(client, DOCUMENTS)] == ["unchanged"] * 3
    after = await ok(await client.get("/v1/events"))
    assert after["items"] == before["items"]


@pytest.mark.usefixtures("echo")
async def test_a_changed_field_updates_only_that_object(client: httpx.AsyncClient) -> None:
    await apply(client, DOCUMENTS)
    changed = DOCUMENTS.replace("max_instances: 4", "max_instances: 6")
    assert await apply(client, changed) == [
        ("compute_cluster", "gpu-east", "unchanged"),
        ("nodepool", "a10-pool", "updated"),
        ("deployment", "echo-prod", "unchanged"),
    ]
    pool = await ok(await client.get("/v1/compute_clusters/gpu-east/nodepools/a10-pool"))
    assert pool["max_instances"] == 6


@pytest.mark.usefixtures("echo")
async def test_a_field_a_document_leaves_out_returns_to_its_default(
    client: httpx.AsyncClient,
) -> None:
    await apply(client, DOCUMENTS)
    without = DOCUMENTS.replace("  autoscale_config: {max_replicas: 3}\n", "")
    assert ("deployment", "echo-prod", "updated") in await apply(client, without)
    deployment = await ok(await client.get("/v1/deployments/echo-prod"))
    assert deployment["autoscale_config"]["max_replicas"] == 5


@pytest.mark.usefixtures("echo")
async def test_documents_apply_in_dependency_order_whatever_their_order_in_the_file(
    client: httpx.AsyncClient,
) -> None:
    reversed_docs = "\n---\n".join(reversed(DOCUMENTS.split("---")))
    assert [kind for kind, _, _ in await apply(client, reversed_docs)] == [
        "compute_cluster",
        "nodepool",
        "deployment",
    ]


@pytest.mark.usefixtures("echo")
async def test_an_invalid_document_means_nothing_is_applied(client: httpx.AsyncClient) -> None:
    broken = DOCUMENTS.replace("instance_types: [g5.xlarge]", "instance_types: [n2-standard-8]")
    response = await client.post("/v1/apply", content=broken, headers=YAML)
    problem = expect_error(response, 422, "UNKNOWN_INSTANCE_TYPE")
    assert problem["message"].startswith("document 2 (nodepool 'a10-pool'): ")
    expect_error(await client.get("/v1/compute_clusters/gpu-east"), 404, "CLUSTER_NOT_FOUND")
    assert (await ok(await client.get("/v1/deployments")))["items"] == []


@pytest.mark.usefixtures("echo")
async def test_a_dry_run_reports_what_would_happen_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    answer = await ok(await client.post("/v1/apply?dry_run=true", content=DOCUMENTS, headers=YAML))
    assert answer["dry_run"] is True
    assert [r["action"] for r in answer["results"]] == ["created"] * 3
    expect_error(await client.get("/v1/compute_clusters/gpu-east"), 404, "CLUSTER_NOT_FOUND")
    expect_error(await client.get("/v1/deployments/echo-prod"), 404, "DEPLOYMENT_NOT_FOUND")


async def test_a_dry_run_still_reports_invalid_documents(client: httpx.AsyncClient) -> None:
    text = "compute_cluster: {id: c, cloud_provider: aws, region: mars-1}"
    response = await client.post("/v1/apply?dry_run=true", content=text, headers=YAML)
    expect_error(response, 422, "UNKNOWN_REGION")


@pytest.mark.usefixtures("echo")
async def test_json_documents_are_accepted_as_a_list(client: httpx.AsyncClient) -> None:
    documents = [
        {"compute_cluster": {"id": "gpu-east", "cloud_provider": "aws", "region": "us-east-1"}},
        {"deployment": {"id": "echo-prod", "model": "echo"}},
    ]
    answer = await ok(await client.post("/v1/apply", json=documents))
    assert [r["action"] for r in answer["results"]] == ["created", "created"]
    deployment = await ok(await client.get("/v1/deployments/echo-prod"))
    assert deployment["nodepools"] == [
        {"compute_cluster": "shared", "nodepool": "default", "priority": 0}
    ]
    again = await ok(
        await client.post(
            "/v1/apply",
            content=json.dumps(documents[1]).encode(),
            headers={"Content-Type": "application/json"},
        )
    )
    assert again["results"][0]["action"] == "unchanged"


async def test_an_unknown_field_in_a_document_is_named_with_its_place(
    client: httpx.AsyncClient,
) -> None:
    text = "compute_cluster: {id: c, cloud_provider: aws, region: us-east-1, colour: blue}"
    problem = expect_error(
        await client.post("/v1/apply", content=text, headers=YAML), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["documents.0.compute_cluster.colour"]


async def test_a_document_of_an_unknown_kind_is_rejected(client: httpx.AsyncClient) -> None:
    text = "compute_cluster: {id: c, cloud_provider: aws, region: us-east-1}\n---\nrunner: {id: x}"
    problem = expect_error(
        await client.post("/v1/apply", content=text, headers=YAML), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["documents.1"]


@pytest.mark.parametrize(
    ("text", "code", "status"),
    [
        ("compute_cluster: [unclosed", "MALFORMED_REQUEST", 400),
        ("", "INVALID_ARGUMENT", 422),
        ("just a string", "INVALID_ARGUMENT", 422),
    ],
    ids=["not-yaml", "empty", "scalar"],
)
async def test_a_body_that_holds_no_documents_is_rejected(
    client: httpx.AsyncClient, text: str, code: str, status: int
) -> None:
    expect_error(await client.post("/v1/apply", content=text, headers=YAML), status, code)


async def test_a_body_that_is_neither_yaml_nor_json_is_unsupported(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/apply", content=b"<xml/>", headers={"Content-Type": "application/xml"}
    )
    expect_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_applying_needs_the_write_scope(client: httpx.AsyncClient) -> None:
    reader = as_token(client, (await create_token(client, "reader", scopes=["read"]))["secret"])
    expect_error(
        await reader.post("/v1/apply", content=DOCUMENTS, headers=YAML), 403, "PERMISSION_DENIED"
    )


# -- Clarifai's config files ----------------------------------------------------------------------


def clarifai_documents() -> str:
    names = ("compute_cluster.yaml", "nodepool.yaml", "deployment.yaml")
    return "\n---\n".join((CLARIFAI / name).read_text() for name in names)


async def test_clarifais_config_files_apply_after_uploading_their_model(
    client: httpx.AsyncClient,
) -> None:
    await upload_model(client, "detector")
    assert await apply(client, clarifai_documents()) == [
        ("compute_cluster", "gpu-east", "created"),
        ("nodepool", "a10-pool", "created"),
        ("deployment", "detector-prod", "created"),
    ]
    cluster = await ok(await client.get("/v1/compute_clusters/gpu-east"))
    assert (cluster["cloud_provider"], cluster["managed_by"]) == ("aws", "flotilla")
    pool = await ok(await client.get("/v1/compute_clusters/gpu-east/nodepools/a10-pool"))
    assert pool["capacity_types"] == ["spot", "on_demand"]
    assert pool["instance_types"] == ["g5.xlarge"]
    deployment = await ok(await client.get("/v1/deployments/detector-prod"))
    assert deployment["model"] == "detector"
    assert deployment["model_version"] == "latest"
    assert deployment["nodepools"] == [
        {"compute_cluster": "gpu-east", "nodepool": "a10-pool", "priority": 0}
    ]
    assert deployment["autoscale_config"]["scale_to_zero_delay_seconds"] == 600


async def test_clarifais_config_files_applied_again_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    await upload_model(client, "detector")
    await apply(client, clarifai_documents())
    actions = [action for _, _, action in await apply(client, clarifai_documents())]
    assert actions == ["unchanged"] * 3
