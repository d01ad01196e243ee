"""What still runs somewhere: the test every delete makes before a row may go."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.states import NODE_GONE_STATES, REPLICA_ENDED_STATES
from flotilla.store.tables import NodeRow, ReplicaRow

_GONE = [s.value for s in NODE_GONE_STATES]
_ENDED = [s.value for s in REPLICA_ENDED_STATES]


async def node_counts(
    session: AsyncSession, nodepool_pks: Iterable[int]
) -> dict[int, dict[str, int]]:
    """Nodes per nodepool and state, for nodes that still hold capacity."""
    pks = list(nodepool_pks)
    if not pks:
        return {}
    result = await session.execute(
        sa.select(NodeRow.nodepool_pk, NodeRow.state, sa.func.count())
        .where(NodeRow.nodepool_pk.in_(pks), NodeRow.state.not_in(_GONE))
        .group_by(NodeRow.nodepool_pk, NodeRow.state)
    )
    counts: dict[int, dict[str, int]] = {}
    for nodepool_pk, state, count in result.all():
        counts.setdefault(nodepool_pk, {})[state] = count
    return counts


async def nodepools_running_anything(session: AsyncSession, nodepool_pks: list[int]) -> set[int]:
    """Those of ``nodepool_pks`` with a live node or a replica that has not ended."""
    if not nodepool_pks:
        return set()
    nodes = await session.execute(
        sa.select(NodeRow.nodepool_pk)
        .where(NodeRow.nodepool_pk.in_(nodepool_pks), NodeRow.state.not_in(_GONE))
        .distinct()
    )
    replicas = await session.execute(
        sa.select(ReplicaRow.nodepool_pk)
        .where(ReplicaRow.nodepool_pk.in_(nodepool_pks), ReplicaRow.state.not_in(_ENDED))
        .distinct()
    )
    return {pk for (pk,) in nodes.all()} | {pk for (pk,) in replicas.all() if pk is not None}


async def deployment_running_anything(session: AsyncSession, deployment_pk: int) -> bool:
    found = await session.scalar(
        sa.select(ReplicaRow.pk)
        .where(ReplicaRow.deployment_pk == deployment_pk, ReplicaRow.state.not_in(_ENDED))
        .limit(1)
    )
    return found is not None
