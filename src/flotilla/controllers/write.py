"""Writing a plan: inserts, compare-and-set updates and deletes, in the caller's transaction.

Replica state changes are conditional on the state the plan was decided from, so a report an
agent wrote meanwhile is never overwritten; the next pass sees it.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from flotilla.controllers.plan import Plan
from flotilla.controllers.snapshot import Snapshot
from flotilla.domain.states import NodeState, ReplicaState
from flotilla.store.prepared import Prepared, execute_many
from flotilla.store.tables import (
    ClusterRow,
    DeploymentRow,
    EventRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
)

_TIMESTAMP = {
    ReplicaState.DRAINING.value: "draining_at",
    ReplicaState.STOPPED.value: "stopped_at",
    ReplicaState.FAILED.value: "stopped_at",
}


def _suffix() -> str:
    return secrets.token_hex(5)


def _insert_nodes(
    session: Session, plan: Plan, snapshot: Snapshot, now: datetime
) -> dict[int, int]:
    if not plan.new_nodes:
        return {}
    rows = [
        {
            "id": f"{snapshot.pools[n.pool_pk].id[:40]}-{_suffix()}",
            "nodepool_pk": n.pool_pk,
            "instance_type": n.instance_type,
            "capacity_type": n.capacity_type.value,
            "state": NodeState.LAUNCHING.value,
            "state_reason": n.reason,
            "price_per_hour": n.price,
            "cordoned": False,
            "replaces_pk": n.replaces_pk,
            "created_at": now,
            "modified_at": now,
        }
        for n in plan.new_nodes
    ]
    result = session.execute(
        sa.insert(NodeRow).returning(NodeRow.pk, sort_by_parameter_order=True), rows
    )
    return {n.ref: pk for n, (pk,) in zip(plan.new_nodes, result.all(), strict=True)}


def _insert_replicas(
    session: Session, plan: Plan, snapshot: Snapshot, nodes: dict[int, int], now: datetime
) -> None:
    if not plan.new_replicas:
        return
    rows = []
    for r in plan.new_replicas:
        pool_pk, node_key = plan.placements.get(r.ref, (None, None))
        node_pk = nodes.get(node_key, node_key) if node_key is not None else None
        rows.append(
            {
                "id": f"{snapshot.deployments[r.deployment_pk].id[:40]}-{_suffix()}",
                "deployment_pk": r.deployment_pk,
                "model_version_pk": r.version_pk,
                "nodepool_pk": pool_pk,
                "node_pk": node_pk,
                "state": (ReplicaState.PLACED if node_pk else ReplicaState.PENDING).value,
                "replaces_pk": r.replaces_pk,
                "restarts": 0,
                "created_at": now,
                "modified_at": now,
            }
        )
    session.execute(sa.insert(ReplicaRow), rows)


def _update_replicas(
    session: Session, plan: Plan, snapshot: Snapshot, nodes: dict[int, int], now: datetime
) -> None:
    by_node: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, (pool_pk, node_key) in plan.placements.items():
        if pk > 0:
            by_node[(pool_pk, nodes.get(node_key, node_key))].append(pk)
    for (pool_pk, node_pk), pks in by_node.items():
        session.execute(
            sa.update(ReplicaRow)
            .where(ReplicaRow.pk.in_(pks), ReplicaRow.state == ReplicaState.PENDING.value)
            .values(
                state=ReplicaState.PLACED.value,
                nodepool_pk=pool_pk,
                node_pk=node_pk,
                modified_at=now,
            )
        )
    grouped: dict[tuple[str, str, str | None], list[int]] = defaultdict(list)
    for pk, (state, reason) in plan.replica_states.items():
        if state == ReplicaState.PLACED.value:
            continue  # written with its placement
        grouped[(snapshot.replicas[pk].state, state, reason)].append(pk)
    for (before, after, reason), pks in grouped.items():
        values: dict[str, Any] = {"state": after, "modified_at": now}
        if reason is not None:
            values["state_reason"] = reason
        if after in _TIMESTAMP:
            values[_TIMESTAMP[after]] = now
        if after == ReplicaState.PENDING.value:
            values.update(node_pk=None, nodepool_pk=None)
        session.execute(
            sa.update(ReplicaRow)
            .where(ReplicaRow.pk.in_(pks), ReplicaRow.state == before)
            .values(**values)
        )


_NODES = cast(sa.Table, NodeRow.__table__)
_DEPLOYMENTS = cast(sa.Table, DeploymentRow.__table__)


def _by_columns(updates: dict[int, dict[str, Any]]) -> dict[tuple[str, ...], list[int]]:
    """Rows grouped by the columns their update sets: one batched statement per group."""
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for pk, values in updates.items():
        groups[tuple(sorted(values))].append(pk)
    return groups


def _update_nodes(session: Session, plan: Plan, snapshot: Snapshot, now: datetime) -> None:
    """Each node's update holds only if its state is still the one the plan was decided from."""
    c = _NODES.c
    for columns, pks in _by_columns(plan.node_updates).items():
        statement = (
            sa.update(_NODES)
            .where(c.pk == sa.bindparam("b_pk"), c.state == sa.bindparam("b_state"))
            .values({name: sa.bindparam(name) for name in (*columns, "modified_at")})
        )
        session.execute(
            statement,
            [
                {
                    **plan.node_updates[pk],
                    "modified_at": now,
                    "b_pk": pk,
                    "b_state": snapshot.nodes[pk].state,
                }
                for pk in pks
            ],
        )


_DEPLOYMENT_UPDATES: dict[tuple[str, ...], Prepared] = {}
"""By the columns set: a pass updates most deployments (their scaler state), with few shapes."""


def _deployment_update(columns: tuple[str, ...]) -> Prepared:
    found = _DEPLOYMENT_UPDATES.get(columns)
    if found is None:
        c = _DEPLOYMENTS.c
        found = _DEPLOYMENT_UPDATES[columns] = Prepared(
            sa.update(_DEPLOYMENTS)
            .where(c.pk == sa.bindparam("b_pk"))
            .values({name: sa.bindparam(name, type_=c[name].type) for name in columns})
        )
    return found


def _update_deployments(session: Session, plan: Plan) -> None:
    for columns, pks in _by_columns(plan.deployment_updates).items():
        execute_many(
            session,
            _deployment_update(columns),
            [{**plan.deployment_updates[pk], "b_pk": pk} for pk in pks],
        )


def write_plan(session: Session, plan: Plan, snapshot: Snapshot, now: datetime) -> None:
    nodes = _insert_nodes(session, plan, snapshot, now)
    _insert_replicas(session, plan, snapshot, nodes, now)
    _update_replicas(session, plan, snapshot, nodes, now)
    _update_nodes(session, plan, snapshot, now)
    _update_deployments(session, plan)
    if plan.delete_deployments:
        session.execute(
            sa.delete(DeploymentRow).where(DeploymentRow.pk.in_(plan.delete_deployments))
        )
    if plan.delete_pools:
        session.execute(sa.delete(NodepoolRow).where(NodepoolRow.pk.in_(plan.delete_pools)))
    if plan.delete_clusters:
        session.execute(sa.delete(ClusterRow).where(ClusterRow.pk.in_(plan.delete_clusters)))
    if plan.events:
        session.execute(
            sa.insert(EventRow),
            [
                {
                    "time": now,
                    "owner_pk": e.owner_pk,
                    "object_kind": e.kind.value,
                    "object_id": e.object_id,
                    "type": e.type.value,
                    "reason": e.reason,
                    "message": e.message,
                }
                for e in plan.events
            ],
        )
