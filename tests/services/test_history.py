"""Ended replicas and nodes, and old events, are forgotten after their retention; nothing else."""

from __future__ import annotations

from datetime import timedelta

import httpx
import sqlalchemy as sa

from flotilla.domain.time import ManualClock
from flotilla.services import history, logs
from flotilla.services.context import Context
from flotilla.store.tables import EventRow, NodeRow, ReplicaRow
from tests.factories import (
    add_running_node,
    add_running_replica,
    create_cluster,
    create_deployment,
    create_nodepool,
    upload_model,
)

DAY = 86_400.0


async def states(ctx: Context) -> tuple[list[str], list[str]]:
    async with ctx.db.read() as s:
        replicas = list(await s.scalars(sa.select(ReplicaRow.state).order_by(ReplicaRow.pk)))
        nodes = list(await s.scalars(sa.select(NodeRow.state).order_by(NodeRow.pk)))
    return replicas, nodes


async def test_history_older_than_its_retention_goes_and_the_rest_stays(
    client: httpx.AsyncClient, ctx: Context, clock: ManualClock
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await upload_model(client)
    await create_deployment(client, "web")
    for _ in range(3):
        await add_running_node(ctx, "gpu-east", "a10-pool")
        await add_running_replica(ctx, "web")
    async with ctx.db.write() as s:  # the first replica and node ended eight days ago
        first_replica = await s.scalar(sa.select(sa.func.min(ReplicaRow.pk)))
        first_node = await s.scalar(sa.select(sa.func.min(NodeRow.pk)))
        ended = clock.now() - timedelta(days=8)
        await s.execute(
            sa.update(ReplicaRow)
            .where(ReplicaRow.pk == first_replica)
            .values(state="stopped", stopped_at=ended)
        )
        await s.execute(
            sa.update(NodeRow)
            .where(NodeRow.pk == first_node)
            .values(state="terminated", terminated_at=ended)
        )
        # the second ended yesterday: still kept
        await s.execute(
            sa.update(ReplicaRow)
            .where(ReplicaRow.pk == first_replica + 1)
            .values(state="failed", stopped_at=clock.now() - timedelta(days=1))
        )
        old_id = await s.scalar(sa.select(ReplicaRow.id).where(ReplicaRow.pk == first_replica))
        events_before = await s.scalar(sa.select(sa.func.count()).select_from(EventRow))
    assert old_id is not None
    logs.append(ctx.settings, [logs.LogLine(old_id, clock.now().timestamp(), "stdout", "bye")])
    assert logs.log_file(ctx.settings, old_id).exists()

    async with ctx.db.write() as s:
        pruned = await history.prune(s, ctx.settings, clock.now())
    history.forget_logs(ctx.settings, pruned.replicas)

    assert pruned.replicas == [old_id]
    assert pruned.nodes == 1
    assert pruned.events == 0  # every event is from today
    assert await states(ctx) == (["failed", "ready"], ["ready", "ready"])
    assert not logs.log_file(ctx.settings, old_id).exists()

    clock.advance(31 * DAY)  # a month on, the events go too (and yesterday's failed replica)
    async with ctx.db.write() as s:
        later = await history.prune(s, ctx.settings, clock.now())
    assert later.events == events_before
    assert await states(ctx) == (["ready"], ["ready", "ready"])
