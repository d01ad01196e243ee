"""/v1/events: what happened to your objects and why, newest first, with filters."""

from __future__ import annotations

import httpx
import pytest

from flotilla.domain.time import ManualClock
from tests.factories import create_cluster, create_nodepool, create_user, expect_error, ok


async def events(client: httpx.AsyncClient, query: str = "") -> list[tuple[str, str, str]]:
    page = await ok(await client.get(f"/v1/events{query}"))
    return [(e["object_kind"], e["object_id"], e["reason"]) for e in page["items"]]


@pytest.fixture
async def history(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """A cluster, then (a minute later) a nodepool in it, then another cluster."""
    await create_cluster(client, "gpu-east")
    clock.advance(60)
    await create_nodepool(client, "gpu-east", "a10-pool")
    clock.advance(60)
    await create_cluster(client, "gpu-west", region="us-west-2")


@pytest.mark.usefixtures("history")
async def test_events_are_listed_newest_first(client: httpx.AsyncClient) -> None:
    mine = [e for e in await events(client) if e[0] != "token"]
    assert mine[:3] == [
        ("compute_cluster", "gpu-west", "CLUSTER_CREATED"),
        ("nodepool", "gpu-east/a10-pool", "NODEPOOL_CREATED"),
        ("compute_cluster", "gpu-east", "CLUSTER_CREATED"),
    ]
    page = await ok(await client.get("/v1/events?per_page=1"))
    event = page["items"][0]
    assert event["type"] == "normal"
    assert "aws/us-west-2" in event["message"]
    assert event["time"] == "2026-01-01T00:02:00Z"


@pytest.mark.usefixtures("history")
async def test_events_are_filtered_by_object_kind(client: httpx.AsyncClient) -> None:
    assert await events(client, "?object_kind=nodepool") == [
        ("nodepool", "gpu-east/a10-pool", "NODEPOOL_CREATED")
    ]


@pytest.mark.usefixtures("history")
async def test_an_object_id_also_matches_the_objects_below_it(client: httpx.AsyncClient) -> None:
    assert await events(client, "?object_id=gpu-east") == [
        ("nodepool", "gpu-east/a10-pool", "NODEPOOL_CREATED"),
        ("compute_cluster", "gpu-east", "CLUSTER_CREATED"),
    ]
    assert await events(client, "?object_id=gpu-east/a10-pool") == [
        ("nodepool", "gpu-east/a10-pool", "NODEPOOL_CREATED")
    ]
    assert await events(client, "?object_id=gpu") == []  # a prefix of an id is not its id


@pytest.mark.usefixtures("history")
async def test_object_ids_are_matched_case_sensitively(client: httpx.AsyncClient) -> None:
    assert await events(client, "?object_id=GPU-EAST") == []


@pytest.mark.usefixtures("history")
async def test_events_are_filtered_by_reason_and_type(client: httpx.AsyncClient) -> None:
    assert await events(client, "?reason=NODEPOOL_CREATED") == [
        ("nodepool", "gpu-east/a10-pool", "NODEPOOL_CREATED")
    ]
    assert await events(client, "?type=warning") == []


@pytest.mark.usefixtures("history")
async def test_events_are_filtered_by_time(client: httpx.AsyncClient) -> None:
    window = "?since=2026-01-01T00:01:00Z&until=2026-01-01T00:02:00Z"
    assert await events(client, window) == [("nodepool", "gpu-east/a10-pool", "NODEPOOL_CREATED")]
    in_paris = "?since=2026-01-01T01:02:00%2B01:00&object_kind=compute_cluster"
    assert await events(client, in_paris) == [("compute_cluster", "gpu-west", "CLUSTER_CREATED")]


@pytest.mark.usefixtures("history")
async def test_a_time_beyond_what_utc_can_hold_is_no_bound(client: httpx.AsyncClient) -> None:
    everything = await events(client)
    assert await events(client, "?until=9999-12-31T23:59:59-23:00") == everything
    assert await events(client, "?since=0001-01-01T00:00:00%2B23:00") == everything


@pytest.mark.usefixtures("history")
async def test_events_after_an_id_come_oldest_first_to_follow_them(
    client: httpx.AsyncClient,
) -> None:
    newest_first = (await ok(await client.get("/v1/events")))["items"]
    cluster_event = next(e for e in newest_first if e["object_id"] == "gpu-east")
    followed = await events(client, f"?after_id={cluster_event['id']}")
    assert followed == [
        ("nodepool", "gpu-east/a10-pool", "NODEPOOL_CREATED"),
        ("compute_cluster", "gpu-west", "CLUSTER_CREATED"),
    ]


@pytest.mark.usefixtures("history")
async def test_another_users_events_are_not_shown(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    assert await events(bob, "?object_kind=compute_cluster") == [
        ("compute_cluster", "shared", "CLUSTER_CREATED")
    ]
    assert await events(bob, "?object_id=gpu-east") == []


async def test_every_user_sees_the_shared_clusters_events(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    assert ("compute_cluster", "shared", "CLUSTER_CREATED") in await events(bob)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "query.since"),
        ("since=1767225600", "query.since"),  # a Unix time is not an ISO 8601 time
        ("until=2026-01-01T00:00:00", "query.until"),  # no zone
        ("object_kind=gadget", "query.object_kind"),
        ("object_id=gpu east", "query.object_id"),
        ("reason=not a reason", "query.reason"),
        ("after_id=-1", "query.after_id"),
        ("after_id=99999999999999999999", "query.after_id"),
    ],
)
async def test_a_bad_filter_is_rejected_naming_it(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    problem = expect_error(await client.get(f"/v1/events?{query}"), 422, "INVALID_ARGUMENT")
    assert list(problem["fields"]) == [field]
