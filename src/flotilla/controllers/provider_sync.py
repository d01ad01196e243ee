"""What providers say, applied to the database: interruption notices and instances they ended
(their events), and a periodic sweep that terminates instances no node row knows and ends nodes
whose instance vanished — the level-triggered backup for lost events and crashes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.controllers.usage import record_node_usage
from flotilla.domain.states import (
    NODE_GONE_STATES,
    CapacityType,
    EventType,
    NodeState,
    ObjectKind,
    ReplicaState,
)
from flotilla.providers.base import (
    TAG_INSTALLATION,
    TAG_NODE,
    Provider,
    ProviderEvent,
    ProviderEventKind,
)
from flotilla.providers.registry import ProviderRegistry
from flotilla.services import events
from flotilla.services.context import Context
from flotilla.store.tables import ClusterRow, NodepoolRow, NodeRow, ReplicaRow

log = logging.getLogger("flotilla.actuator")


async def handle_events(ctx: Context, providers: ProviderRegistry) -> int:
    """Apply what each provider reports (interruption notices, instances it ended)."""
    handled = 0
    for provider in providers.all():
        for event in await provider.events():
            handled += await on_event(ctx, event)
    return handled


async def on_event(ctx: Context, event: ProviderEvent) -> int:
    now = ctx.now()
    async with ctx.db.write() as s:
        row = (
            await s.execute(
                sa.select(NodeRow, NodepoolRow.id, ClusterRow.id, ClusterRow.owner_pk)
                .join(NodepoolRow, NodepoolRow.pk == NodeRow.nodepool_pk)
                .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
                .where(NodeRow.provider_instance_id == event.instance_id)
            )
        ).first()
        if row is None:
            return 0
        node, pool_id, cluster_id, owner_pk = row
        path = f"{cluster_id}/{pool_id}/{node.id}"
        if node.state in {st.value for st in NODE_GONE_STATES}:
            return 0
        if event.kind == ProviderEventKind.INTERRUPTION_NOTICE:
            node.cordoned = True
            node.interruption_notice_at = event.at
            node.interruption_deadline_at = event.deadline
            node.state_reason = "spot interruption notice"
            left = (event.deadline - now).total_seconds() if event.deadline else 0
            message = (
                f"spot interruption notice: reclaimed in {left:.0f}s; replacing its replicas now"
            )
            reason = "NODE_INTERRUPTION"
        else:
            interrupted = (
                node.interruption_notice_at is not None
                or node.capacity_type == CapacityType.SPOT.value
            )
            node.state = (NodeState.PREEMPTED if interrupted else NodeState.LOST).value
            node.terminated_at = event.at
            if interrupted:
                node.preempted_at = event.at
            else:
                node.lost_at = event.at
            node.state_reason = event.message or "the provider ended the instance"
            await end_replicas(s, node.pk, now, f"its node was {node.state}")
            await s.flush()
            await record_node_usage(s, node.pk, event.at)
            message = f"instance {event.instance_id} is gone ({node.state}): {node.state_reason}"
            reason = "NODE_" + node.state.upper()
        node.modified_at = now
        events.record(
            s,
            owner_pk=owner_pk,
            kind=ObjectKind.NODE,
            object_id=path,
            reason=reason,
            message=message,
            time=now,
            type=EventType.WARNING,
        )
    return 1


async def sweep_orphans(ctx: Context, providers: ProviderRegistry, installation: str) -> int:
    """Terminate instances of this installation that no live node row knows (and mark nodes
    whose instance vanished). Level-triggered backup for lost events and crashes."""
    swept = 0
    for provider in providers.all():
        listed_at = ctx.now()
        instances = await provider.list_instances({TAG_INSTALLATION: installation})
        swept += await _vanished(ctx, provider, {i.instance_id for i in instances}, listed_at)
        ids = {i.tags.get(TAG_NODE) for i in instances}
        async with ctx.db.read() as s:
            known = dict(
                (
                    await s.execute(
                        sa.select(NodeRow.id, NodeRow.state).where(
                            NodeRow.id.in_([i for i in ids if i])
                        )
                    )
                ).all()
            )
        for instance in instances:
            node_id = instance.tags.get(TAG_NODE)
            state = known.get(node_id) if node_id else None
            if state is None or state in {st.value for st in NODE_GONE_STATES}:
                await provider.terminate(instance.instance_id)
                swept += 1
                log.warning(
                    "terminated orphan instance %s (node %s)", instance.instance_id, node_id
                )
    return swept


async def _vanished(
    ctx: Context, provider: Provider, existing: set[str], listed_at: datetime
) -> int:
    """Nodes whose instance the provider no longer has (a restart, a lost event) end now."""
    async with ctx.db.read() as s:
        rows = await s.execute(
            sa.select(NodeRow.provider_instance_id)
            .join(NodepoolRow, NodepoolRow.pk == NodeRow.nodepool_pk)
            .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
            .where(
                ClusterRow.cloud_provider == provider.name,
                NodeRow.provider_instance_id.is_not(None),
                NodeRow.state.in_(
                    [
                        NodeState.REGISTERING.value,
                        NodeState.READY.value,
                        NodeState.DRAINING.value,
                    ]
                ),
                NodeRow.launched_at < listed_at - timedelta(seconds=60),
            )
        )
        gone = [iid for (iid,) in rows.all() if iid is not None and iid not in existing]

    for instance_id in gone:
        event = ProviderEvent(
            ProviderEventKind.TERMINATED,
            instance_id,
            ctx.now(),
            message="its instance no longer exists",
        )
        await on_event(ctx, event)
    return len(gone)


async def end_replicas(s: AsyncSession, node_pk: int, now: datetime, why: str) -> None:
    """Every replica still on a node that is gone ends as failed, saying why."""
    ended = [st.value for st in (ReplicaState.STOPPED, ReplicaState.FAILED)]
    await s.execute(
        sa.update(ReplicaRow)
        .where(ReplicaRow.node_pk == node_pk, ReplicaRow.state.not_in(ended))
        .values(state=ReplicaState.FAILED.value, state_reason=why, stopped_at=now, modified_at=now)
    )
