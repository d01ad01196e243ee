"""``flotilla.AsyncClient`` against the ASGI app in-process (``httpx.ASGITransport``; the SDK does
not depend on the database, so SQLite only), and over a real socket for what streams (following
logs) and for predictions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

import flotilla
from flotilla.api.app import create_app
from flotilla.errors import ClusterNotFound, ModelInUse, NodepoolNotFound, WaitTimedOut
from flotilla.services.bootstrap import bootstrap
from flotilla.services.context import Context
from flotilla.settings import Settings
from flotilla.store.db import Database
from tests.client.live import EXAMPLES, Live, User


@pytest.fixture
async def sdk(sqlite_url: str, tmp_path: Path) -> AsyncIterator[flotilla.AsyncClient]:
    settings = Settings(home=tmp_path / "home", database_url=sqlite_url, run_migrations=False)
    ctx = Context(db=Database(settings.sqlalchemy_url), settings=settings)
    done = await bootstrap(ctx)
    assert done.admin_token is not None
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with flotilla.AsyncClient(
        "http://flotilla.test", done.admin_token, transport=transport
    ) as client:
        yield client
    await ctx.db.dispose()


async def test_the_async_client_manages_clusters_and_nodepools(
    sdk: flotilla.AsyncClient,
) -> None:
    created = await sdk.compute_clusters.create(
        "gpu-east", cloud_provider="aws", region="us-east-1"
    )
    assert created.status == "active"
    await sdk.nodepools.create("gpu-east", "a10", instance_types=["g5.xlarge"], max_instances=2)
    assert [c.id async for c in sdk.compute_clusters.list(per_page=1)] == ["gpu-east", "shared"]
    assert [p.id async for p in sdk.nodepools.list("gpu-east")] == ["a10"]
    pool = await sdk.nodepools.update("gpu-east", "a10", min_instances=1)
    assert (pool.min_instances, pool.status) == (1, "pending")
    with pytest.raises(WaitTimedOut):
        await sdk.nodepools.wait_until_ready("gpu-east", "a10", timeout=0.3)
    assert (await sdk.nodepools.delete("gpu-east", "a10")).status == "deleted"
    with pytest.raises(NodepoolNotFound):
        await sdk.nodepools.get("gpu-east", "a10")
    await sdk.compute_clusters.delete("gpu-east")
    await sdk.compute_clusters.wait_until_deleted("gpu-east", timeout=5)
    with pytest.raises(ClusterNotFound):
        await sdk.clusters.get("gpu-east")


async def test_the_async_client_uploads_deploys_and_reads_events(
    sdk: flotilla.AsyncClient,
) -> None:
    version = await sdk.models.upload(EXAMPLES / "echo")
    assert [v.id async for v in sdk.models.versions("echo")] == [version.id]
    deployment = await sdk.deployments.create("echo", model="echo")
    assert deployment.resolved_model_version == version.id
    with pytest.raises(ModelInUse):
        await sdk.models.delete("echo")
    updated = await sdk.deployments.update("echo", autoscale_config={"max_replicas": 2})
    assert updated.autoscale_config.max_replicas == 2
    assert [d.id async for d in sdk.deployments.list(model="echo")] == ["echo"]
    reasons = [e.reason async for e in sdk.events(object_kind="deployment")]
    assert reasons == ["DEPLOYMENT_UPDATED", "DEPLOYMENT_CREATED"]
    assert (await sdk.deployments.delete("echo")).status == "deleted"


async def test_the_async_client_reads_tokens_users_usage_apply_and_the_catalog(
    sdk: flotilla.AsyncClient,
) -> None:
    assert (await sdk.me()).id == "admin"
    token = await sdk.tokens.create("ci")
    assert (await sdk.tokens.revoke("ci")).status == "revoked"
    await sdk.tokens.delete(token.id)
    made = await sdk.users.create("dora")
    assert [u.id async for u in sdk.users.list()] == ["admin", "dora"]
    await sdk.users.delete(made.user.id)
    assert (await sdk.usage("capacity_type")).rows == []
    applied = await sdk.apply("compute_cluster: {id: b, cloud_provider: local, region: local}")
    assert applied.results[0].action == "created"
    cheapest = [t async for t in sdk.instance_types.list(cloud_provider="aws", max_price=0.1)]
    assert all(t.price_per_hour.on_demand <= 0.1 for t in cheapest)
    assert (await sdk.cloud_providers.get("local")).id == "local"


async def test_the_async_client_follows_logs_and_predicts_over_a_socket(
    live: Live, user: User
) -> None:
    async with flotilla.AsyncClient(live.url, user.token, gateway_url=live.gateway_url) as client:
        await client.models.upload(EXAMPLES / "echo")
        await client.deployments.create("echo", model="echo")
        await asyncio.to_thread(live.add_stand_in, user.id, "echo")
        assert await client.predict("echo", {"x": 1}) == {"x": 1}
        ready = await client.deployments.wait_until_ready("echo", timeout=5)
        replica = next(iter([r async for r in client.deployments.replicas("echo")]))
        assert ready.replicas == {"ready": 1}
        when = datetime(2026, 1, 1, tzinfo=UTC)
        live.write_logs(replica.id, (when, "one"), (when.replace(second=1), "two"))
        assert [line.text async for line in client.deployments.logs("echo")] == ["one", "two"]
        followed = client.deployments.logs("echo", follow=True, tail=1)
        assert (await anext(followed)).text == "two"
        await followed.aclose()
