"""Lists page with `page` (from 1) and `per_page` (default 128, at most 1000)."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import expect_error, ok


@pytest.fixture
async def five_models(client: httpx.AsyncClient) -> None:
    for model_id in ("m1", "m2", "m3", "m4", "m5"):
        await ok(await client.post("/v1/models", json={"id": model_id}), 201)


@pytest.mark.usefixtures("five_models")
async def test_pages_follow_one_another_until_next_page_is_null(
    client: httpx.AsyncClient,
) -> None:
    seen, page = [], 1
    while page is not None:
        answer = await ok(await client.get(f"/v1/models?per_page=2&page={page}"))
        assert (answer["page"], answer["per_page"]) == (page, 2)
        seen.append([m["id"] for m in answer["items"]])
        page = answer["next_page"]
    assert seen == [["m1", "m2"], ["m3", "m4"], ["m5"]]


@pytest.mark.usefixtures("five_models")
async def test_a_full_last_page_has_no_next_page(client: httpx.AsyncClient) -> None:
    answer = await ok(await client.get("/v1/models?per_page=5"))
    assert len(answer["items"]) == 5
    assert answer["next_page"] is None


@pytest.mark.usefixtures("five_models")
async def test_a_page_past_the_end_is_empty(client: httpx.AsyncClient) -> None:
    answer = await ok(await client.get("/v1/models?per_page=2&page=9"))
    assert (answer["items"], answer["next_page"]) == ([], None)


@pytest.mark.usefixtures("five_models")
async def test_the_default_page_holds_128(client: httpx.AsyncClient) -> None:
    answer = await ok(await client.get("/v1/models"))
    assert (answer["page"], answer["per_page"], answer["next_page"]) == (1, 128, None)
    assert len(answer["items"]) == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=0", "query.per_page"),
        ("per_page=1001", "query.per_page"),
        ("per_page=ten", "query.per_page"),
        ("page=0", "query.page"),
        ("page=-1", "query.page"),
    ],
)
async def test_paging_out_of_bounds_is_rejected_naming_the_parameter(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    problem = expect_error(await client.get(f"/v1/models?{query}"), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == [field]


async def test_the_largest_page_is_allowed(client: httpx.AsyncClient) -> None:
    answer = await ok(await client.get("/v1/instance_types?per_page=1000"))
    assert answer["per_page"] == 1000
    assert answer["next_page"] is None


async def test_the_catalog_pages_like_every_list(client: httpx.AsyncClient) -> None:
    everything = (await ok(await client.get("/v1/instance_types?per_page=1000")))["items"]
    first = await ok(await client.get("/v1/instance_types?per_page=10"))
    second = await ok(await client.get("/v1/instance_types?per_page=10&page=2"))
    assert first["next_page"] == 2
    assert first["items"] + second["items"] == everything[:20]
    providers = await ok(await client.get("/v1/cloud_providers?per_page=2"))
    assert len(providers["items"]) == 2
    assert providers["next_page"] == 2


@pytest.mark.parametrize(
    "path",
    [
        "/v1/compute_clusters",
        "/v1/compute_clusters/shared/nodepools",
        "/v1/deployments",
        "/v1/tokens",
        "/v1/users",
        "/v1/events",
        "/v1/cloud_providers",
    ],
)
async def test_every_list_answers_a_page(client: httpx.AsyncClient, path: str) -> None:
    answer = await ok(await client.get(f"{path}?per_page=1"))
    assert set(answer) == {"items", "page", "per_page", "next_page"}
    assert answer["per_page"] == 1
    assert len(answer["items"]) <= 1
