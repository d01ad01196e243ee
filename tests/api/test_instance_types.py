"""/v1/instance_types and /v1/cloud_providers: the catalog, filtered the way users look for GPUs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from flotilla.domain.quantities import parse_memory
from tests.factories import expect_error, ok

# The catalog is served from memory, whatever the database: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def types(client: httpx.AsyncClient, query: str = "") -> list[dict[str, Any]]:
    sep = "&" if query else ""
    page = await ok(await client.get(f"/v1/instance_types?per_page=1000{sep}{query}"))
    items: list[dict[str, Any]] = page["items"]
    assert items or "nothing" in query, f"no instance types for {query!r}"
    return items


async def test_the_catalog_lists_cpu_and_gpu_types_of_every_provider(
    client: httpx.AsyncClient,
) -> None:
    found = await types(client)
    assert {"aws", "gcp", "local", "sim"} <= {t["cloud_provider"] for t in found}
    g5 = next(t for t in found if (t["id"], t["region"]) == ("g5.xlarge", "us-east-1"))
    assert g5["compute_info"]["accelerators"] == 1
    assert g5["compute_info"]["accelerator_type"] == "NVIDIA-A10G"
    assert g5["allowed_capacity_types"] == ["spot", "on_demand"]
    assert g5["price_per_hour"]["spot"] < g5["price_per_hour"]["on_demand"]
    assert parse_memory(g5["allocatable"]["memory"]) < parse_memory(g5["compute_info"]["memory"])


async def test_types_are_listed_cheapest_first(client: httpx.AsyncClient) -> None:
    prices = [t["price_per_hour"]["on_demand"] for t in await types(client, "cloud_provider=aws")]
    assert prices == sorted(prices)


async def test_types_are_filtered_by_provider_and_region(client: httpx.AsyncClient) -> None:
    found = await types(client, "cloud_provider=gcp&region=us-central1")
    assert {(t["cloud_provider"], t["region"]) for t in found} == {("gcp", "us-central1")}


async def test_gpu_true_lists_only_types_with_accelerators_and_false_only_without(
    client: httpx.AsyncClient,
) -> None:
    gpus = await types(client, "gpu=true")
    cpus = await types(client, "gpu=false")
    assert all(t["compute_info"]["accelerators"] > 0 for t in gpus)
    assert all(t["compute_info"]["accelerators"] == 0 for t in cpus)
    assert len(gpus) + len(cpus) == len(await types(client))


async def test_min_gpus_lists_types_with_at_least_that_many(client: httpx.AsyncClient) -> None:
    found = await types(client, "min_gpus=8")
    assert all(t["compute_info"]["accelerators"] >= 8 for t in found)
    assert "p5.48xlarge" in {t["id"] for t in found}


async def test_min_gpu_memory_compares_memory_per_accelerator(client: httpx.AsyncClient) -> None:
    found = await types(client, "min_gpu_memory=40Gi")
    assert all(parse_memory(t["compute_info"]["accelerator_memory"]) >= 40 * 2**30 for t in found)
    ids = {t["id"] for t in found}
    assert "p4de.24xlarge" in ids  # A100 80 GB
    assert "g5.xlarge" not in ids  # A10G 24 GB


async def test_accelerator_type_matches_wildcards_case_insensitively(
    client: httpx.AsyncClient,
) -> None:
    nvidia = await types(client, "accelerator_type=NVIDIA-*")
    assert nvidia
    assert all(t["compute_info"]["accelerator_type"].startswith("NVIDIA-") for t in nvidia)
    a100 = await types(client, "accelerator_type=*a100*")
    assert {t["compute_info"]["accelerator_type"] for t in a100} >= {"NVIDIA-A100"}
    assert await types(client, "accelerator_type=TPU-nothing") == []


async def test_a_wildcard_matches_no_type_without_accelerators(client: httpx.AsyncClient) -> None:
    assert all(
        t["compute_info"]["accelerators"] > 0 for t in await types(client, "accelerator_type=*")
    )


async def test_max_price_compares_the_on_demand_price_by_default(
    client: httpx.AsyncClient,
) -> None:
    found = await types(client, "cloud_provider=aws&max_price=0.1")
    assert all(t["price_per_hour"]["on_demand"] <= 0.1 for t in found)


async def test_max_price_with_spot_compares_the_spot_price(client: httpx.AsyncClient) -> None:
    spot = await types(client, "cloud_provider=aws&gpu=true&capacity_type=spot&max_price=0.5")
    assert all(t["price_per_hour"]["spot"] <= 0.5 for t in spot)
    assert any(t["price_per_hour"]["on_demand"] > 0.5 for t in spot)  # cheaper as spot only


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    found = await types(
        client, "cloud_provider=aws&region=us-east-1&accelerator_type=NVIDIA-*&min_gpus=4"
    )
    assert all(t["compute_info"]["accelerators"] >= 4 for t in found)
    assert {t["region"] for t in found} == {"us-east-1"}


async def test_an_unknown_provider_filter_lists_nothing(client: httpx.AsyncClient) -> None:
    assert await types(client, "cloud_provider=nothing") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_gpu_memory=lots", "query.min_gpu_memory"),
        ("min_gpu_memory=1.5Gi", "query.min_gpu_memory"),
        ("min_gpus=-1", "query.min_gpus"),
        ("max_price=-1", "query.max_price"),
        ("max_price=nan", "query.max_price"),
        ("gpu=maybe", "query.gpu"),
        ("capacity_type=reserved", "query.capacity_type"),
    ],
)
async def test_a_bad_filter_is_rejected_naming_it(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    problem = expect_error(await client.get(f"/v1/instance_types?{query}"), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == [field]


async def test_one_instance_type_is_read_by_provider_region_and_id(
    client: httpx.AsyncClient,
) -> None:
    got = await ok(
        await client.get("/v1/cloud_providers/aws/regions/us-west-2/instance_types/g5.xlarge")
    )
    assert (got["cloud_provider"], got["region"], got["id"]) == ("aws", "us-west-2", "g5.xlarge")
    expect_error(
        await client.get("/v1/cloud_providers/aws/regions/us-west-2/instance_types/n2-standard-8"),
        404,
        "INSTANCE_TYPE_NOT_FOUND",
    )


async def test_cloud_providers_list_their_regions_and_price_source(
    client: httpx.AsyncClient,
) -> None:
    providers = (await ok(await client.get("/v1/cloud_providers")))["items"]
    assert {"aws", "gcp", "local", "sim", "self_managed"} <= {p["id"] for p in providers}
    aws = await ok(await client.get("/v1/cloud_providers/aws"))
    assert {r["id"] for r in aws["regions"]} >= {"us-east-1", "us-west-2"}
    assert aws["source"]
    expect_error(await client.get("/v1/cloud_providers/azure"), 404, "CLOUD_PROVIDER_NOT_FOUND")
