"""Pricing a node's life when it ends: one usage record of node-seconds × price."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.store.tables import ClusterRow, NodepoolRow, NodeRow, UsageRecordRow


async def record_node_usage(session: AsyncSession, node_pk: int, end: datetime) -> None:
    """Write the node's usage record (once: only while it has none)."""
    row = (
        await session.execute(
            sa.select(NodeRow, NodepoolRow.id, ClusterRow.id, ClusterRow.owner_pk)
            .join(NodepoolRow, NodepoolRow.pk == NodeRow.nodepool_pk)
            .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
            .where(NodeRow.pk == node_pk)
        )
    ).first()
    if row is None:
        return
    node, pool_id, cluster_id, owner_pk = row
    if node.launched_at is None:
        return  # never started at the provider: nothing was billed
    exists = await session.scalar(
        sa.select(UsageRecordRow.pk).where(
            UsageRecordRow.node == node.id, UsageRecordRow.deployment.is_(None)
        )
    )
    if exists is not None:
        return
    seconds = max((end - node.launched_at).total_seconds(), 0.0)
    session.add(
        UsageRecordRow(
            owner_pk=owner_pk,
            compute_cluster=cluster_id,
            nodepool=pool_id,
            node=node.id,
            deployment=None,
            instance_type=node.instance_type,
            capacity_type=node.capacity_type,
            start_at=node.launched_at,
            end_at=end,
            seconds=seconds,
            price_per_hour=node.price_per_hour,
            cost=seconds / 3600.0 * node.price_per_hour,
        )
    )
