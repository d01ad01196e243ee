"""/v1/deployments/{id}/logs: what a deployment's replicas wrote, read at once or followed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from flotilla.services import logs
from flotilla.services.context import Context
from flotilla.store.tables import DeploymentRow, ReplicaRow
from tests.factories import (
    add_running_replica,
    create_deployment,
    create_user,
    expect_error,
    ok,
    upload_model,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()


async def replica_ids(ctx: Context, deployment_id: str) -> list[str]:
    async with ctx.db.read() as s:
        rows = await s.scalars(
            sa.select(ReplicaRow.id)
            .join(DeploymentRow, DeploymentRow.pk == ReplicaRow.deployment_pk)
            .where(DeploymentRow.id == deployment_id)
        )
        return list(rows)


@pytest.fixture
async def replica(client: httpx.AsyncClient, ctx: Context) -> str:
    """A deployment 'web' with one ready replica that wrote three lines, a second apart."""
    await upload_model(client)
    await create_deployment(client, "web")
    await add_running_replica(ctx, "web")
    (replica_id,) = await replica_ids(ctx, "web")
    logs.append(
        ctx.settings,
        [
            logs.LogLine(replica_id, T0, "stdout", "loading"),
            logs.LogLine(replica_id, T0 + 1, "stderr", "a warning"),
            logs.LogLine(replica_id, T0 + 2, "stdout", "ready"),
        ],
    )
    return replica_id


async def test_lines_come_oldest_first_with_replica_and_stream(
    client: httpx.AsyncClient, replica: str
) -> None:
    lines = (await ok(await client.get("/v1/deployments/web/logs")))["lines"]
    assert [(line["text"], line["stream"], line["replica"]) for line in lines] == [
        ("loading", "stdout", replica),
        ("a warning", "stderr", replica),
        ("ready", "stdout", replica),
    ]
    assert lines[0]["time"] == "2026-01-01T12:00:00Z"


@pytest.mark.usefixtures("replica")
async def test_limit_keeps_the_newest_lines_and_since_the_later_ones(
    client: httpx.AsyncClient,
) -> None:
    newest = (await ok(await client.get("/v1/deployments/web/logs?limit=1")))["lines"]
    assert [line["text"] for line in newest] == ["ready"]
    later = await ok(await client.get("/v1/deployments/web/logs?since=2026-01-01T12:00:00.5Z"))
    assert [line["text"] for line in later["lines"]] == ["a warning", "ready"]


@pytest.mark.usefixtures("replica")
async def test_bad_parameters_are_refused_naming_them(client: httpx.AsyncClient) -> None:
    for query, field in (
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("since=yesterday", "since"),
        ("since=2026-01-01T12:00:00", "since"),  # no time zone: ambiguous
    ):
        body = expect_error(
            await client.get(f"/v1/deployments/web/logs?{query}"), 422, "INVALID_ARGUMENT"
        )
        assert field in json.dumps(body), (query, body)


async def test_an_unknown_or_someone_elses_deployment_answers_404(
    client: httpx.AsyncClient, replica: str
) -> None:
    expect_error(await client.get("/v1/deployments/nope/logs"), 404, "DEPLOYMENT_NOT_FOUND")
    async with await create_user(client, "bob") as bob:
        expect_error(await bob.get("/v1/deployments/web/logs"), 404, "DEPLOYMENT_NOT_FOUND")
        expect_error(
            await bob.get("/v1/deployments/web/logs?follow=true"), 404, "DEPLOYMENT_NOT_FOUND"
        )


async def test_following_streams_ndjson_and_ends_when_no_replica_runs(
    client: httpx.AsyncClient, ctx: Context, replica: str
) -> None:
    async with ctx.db.write() as s:  # the replica stopped: nothing more can be written
        await s.execute(sa.update(ReplicaRow).values(state="stopped"))
    async with client.stream("GET", "/v1/deployments/web/logs?follow=true&limit=2") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        rows = [json.loads(line) async for line in response.aiter_lines() if line.strip()]
    assert [(row["text"], row["replica"]) for row in rows] == [
        ("a warning", replica),
        ("ready", replica),
    ]
