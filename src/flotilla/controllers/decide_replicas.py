"""Per deployment: how many replicas, which to replace, which to stop."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flotilla.controllers.decide import ACTIVE_NODE_STATES, Index
from flotilla.controllers.plan import NewReplicaPlan
from flotilla.controllers.snapshot import DeploymentFacts, ReplicaFacts
from flotilla.domain.states import NodeState, ReplicaState
from flotilla.policies.autoscale import TrafficWindow

NOT_STARTED = (ReplicaState.PENDING, ReplicaState.PLACED)
STATE_RANK = {
    ReplicaState.PENDING: 0,
    ReplicaState.PLACED: 1,
    ReplicaState.STARTING: 2,
    ReplicaState.READY: 3,
}


def reconcile_deployments(ix: Index) -> None:
    for dep in ix.snapshot.deployments.values():
        _fail_replicas_on_gone_nodes(ix, dep)
        _complete_replacements(ix, dep)
        desired = _desired(ix, dep)
        _replace_where_needed(ix, dep, desired)
        _adjust_count(ix, dep, desired)


def _live(ix: Index, dep: DeploymentFacts) -> list[ReplicaFacts]:
    return [r for r in ix.by_deployment[dep.pk] if ix.live(r.pk)]


def _fail_replicas_on_gone_nodes(ix: Index, dep: DeploymentFacts) -> None:
    for replica in _live(ix, dep):
        if replica.node_pk is None:
            continue
        node = ix.snapshot.nodes.get(replica.node_pk)
        gone = (
            node is None
            or ix.plan.node_updates.get(node.pk, {}).get("state") == NodeState.LOST.value
        )
        if gone:
            ix.set_state(replica, ReplicaState.FAILED, "its node is gone")


def _complete_replacements(ix: Index, dep: DeploymentFacts) -> None:
    """A replacement that is ready takes over: the replica it replaces drains — unless the
    replacement's own node is going away too (then it is no better a home)."""
    for replica in _live(ix, dep):
        if replica.replaces_pk is None or ix.state.get(replica.pk) != ReplicaState.READY:
            continue
        if _must_move(ix, replica):
            continue
        old = ix.snapshot.replicas.get(replica.replaces_pk)
        if old is not None and ix.live(old.pk) and ix.state[old.pk] != ReplicaState.DRAINING:
            _stop(ix, old, "replaced by " + replica.id)


def _usable_pools(ix: Index, dep: DeploymentFacts) -> list[int]:
    return [
        pk
        for pk, _, _ in dep.pools
        if pk in ix.snapshot.pools and ix.pool_usable(ix.snapshot.pools[pk])
    ]


def _pairs(ix: Index, active: list[ReplicaFacts]) -> dict[int, ReplicaFacts]:
    """Old replica pk → its active replacement."""
    pks = {r.pk for r in active}
    return {r.replaces_pk: r for r in active if r.replaces_pk in pks and r.replaces_pk is not None}


def _active(ix: Index, dep: DeploymentFacts) -> list[ReplicaFacts]:
    return [r for r in _live(ix, dep) if ix.state[r.pk] != ReplicaState.DRAINING]


def _desired(ix: Index, dep: DeploymentFacts) -> int:
    cfg = dep.autoscale
    active = _active(ix, dep)
    current = len(active) - len(_pairs(ix, active))
    blocked = _blocked_reason(ix, dep)
    if blocked is not None:
        if dep.desired_replicas != 0:
            ix.event_for_deployment(
                dep, "DEPLOYMENT_SCALED", f"{dep.desired_replicas}→0 replicas: {blocked}"
            )
        ix.plan.deployment_updates.setdefault(dep.pk, {}).update(desired_replicas=0)
        return 0
    traffic = ix.snapshot.traffic.get(dep.pk)
    ready = sum(1 for r in active if ix.state[r.pk] == ReplicaState.READY)
    window = TrafficWindow(
        stable_concurrency=traffic.stable_in_flight if traffic else 0.0,
        burst_concurrency=traffic.burst_in_flight if traffic else 0.0,
        stable_arrival_rate=traffic.stable_arrival_rate if traffic else 0.0,
        burst_arrival_rate=traffic.burst_arrival_rate if traffic else 0.0,
        held=traffic.held if traffic else 0,
        last_request_at=dep.last_request_at.timestamp() if dep.last_request_at else None,
        ready=min(ready, current),
    )
    decision, state = ix.config.autoscaler(cfg, window, dep.scaler, current, ix.now_s)

    updates: dict[str, object] = {}
    if state != dep.scaler:
        updates["scaler_state"] = state.to_json()
    if decision.desired_replicas != dep.desired_replicas:
        updates["desired_replicas"] = decision.desired_replicas
        ix.event_for_deployment(
            dep,
            "DEPLOYMENT_SCALED",
            f"{dep.desired_replicas}→{decision.desired_replicas} replicas: {decision.reason}",
        )
    if updates:
        ix.plan.deployment_updates.setdefault(dep.pk, {}).update(updates)
    return decision.desired_replicas


def _blocked_reason(ix: Index, dep: DeploymentFacts) -> str | None:
    if dep.deleting:
        return "deleting"
    if not dep.enabled:
        return "disabled"
    if dep.version is None or ix.need(dep.version.pk, dep.version.resources) is None:
        return f"model version '{dep.model_version}' not found"
    if not _usable_pools(ix, dep):
        return "no usable nodepool (token revoked, or nodepools being deleted)"
    return None


def _must_move(ix: Index, replica: ReplicaFacts) -> bool:
    node = ix.snapshot.nodes.get(replica.node_pk) if replica.node_pk is not None else None
    if node is None:
        return False
    update = ix.plan.node_updates.get(node.pk, {})
    cordoned = update.get("cordoned", node.cordoned)
    state = update.get("state", node.state)
    return bool(cordoned) or NodeState(state) not in ACTIVE_NODE_STATES


def _pool_unusable(ix: Index, replica: ReplicaFacts) -> bool:
    pool = ix.snapshot.pools.get(replica.pool_pk) if replica.pool_pk is not None else None
    return pool is not None and not ix.pool_usable(pool)


def _replace_where_needed(ix: Index, dep: DeploymentFacts, desired: int) -> None:
    """Replicas on nodes that go away move (a replacement first, when there is time); replicas
    of an old version are replaced a share at a time."""
    active = _active(ix, dep)
    pairs = _pairs(ix, active)
    replacing = {r.pk for r in pairs.values()}
    rollout_budget = max(1, math.ceil(desired * ix.config.rollout_fraction)) - sum(
        1
        for old_pk in pairs
        if ix.snapshot.replicas[old_pk].version_pk != (dep.version.pk if dep.version else None)
    )
    for replica in active:
        if replica.pk in replacing:
            # a replacement whose node goes away too: not started, it waits for another node;
            # started, it stops, and the replica it replaces gets a new one next pass
            if _must_move(ix, replica):
                if ReplicaState(ix.state[replica.pk]) in NOT_STARTED:
                    _unplace(ix, replica)
                else:
                    _stop(ix, replica, "its node is going away before it took over")
            continue
        if replica.pk in pairs:
            continue
        state = ReplicaState(ix.state[replica.pk])
        if _pool_unusable(ix, replica):
            _stop(ix, replica, "its nodepool stopped (token revoked or being deleted)")
        elif _must_move(ix, replica):
            if state in NOT_STARTED:
                _unplace(ix, replica)
            elif desired > 0 and dep.version is not None:
                _add_replica(ix, dep, dep.version.pk, replaces=replica)
        elif dep.version is not None and replica.version_pk != dep.version.pk and desired > 0:
            if state in NOT_STARTED or state == ReplicaState.STARTING:
                _stop(ix, replica, "a newer model version is deployed")
            elif rollout_budget > 0:
                _add_replica(ix, dep, dep.version.pk, replaces=replica)
                rollout_budget -= 1


@dataclass(frozen=True)
class _Unit:
    members: tuple[ReplicaFacts, ...]
    key: tuple[int, int, int, float]


def _adjust_count(ix: Index, dep: DeploymentFacts, desired: int) -> None:
    active = _active(ix, dep)
    pairs = _pairs(ix, active)
    effective = len(active) - len(pairs)
    if effective < desired and dep.version is not None:
        for _ in range(desired - effective):
            _add_replica(ix, dep, dep.version.pk)
    elif effective > desired:
        for unit in sorted(_units(ix, dep, active, pairs), key=lambda u: u.key)[
            : effective - desired
        ]:
            for replica in unit.members:
                _stop(ix, replica, "scaled down" if desired else "scaled to zero")


def _units(
    ix: Index, dep: DeploymentFacts, active: list[ReplicaFacts], pairs: dict[int, ReplicaFacts]
) -> list[_Unit]:
    """Replicas to choose victims from (a replica and its replacement go together): not yet
    started first, old versions first, then the least loaded nodes, newest first."""
    replacements = {r.pk for r in pairs.values()}
    version_pk = dep.version.pk if dep.version else None
    units = []
    for replica in active:
        if replica.pk in replacements:
            continue
        members = (replica, pairs[replica.pk]) if replica.pk in pairs else (replica,)
        load = len(ix.on_node.get(replica.node_pk, ())) if replica.node_pk is not None else 0
        key = (
            STATE_RANK.get(ReplicaState(ix.state[replica.pk]), 3),
            0 if replica.version_pk != version_pk else 1,
            load,
            -replica.created_at.timestamp(),
        )
        units.append(_Unit(members, key))
    return units


def _stop(ix: Index, replica: ReplicaFacts, reason: str) -> None:
    """Never started: stopped at once. Otherwise drain (in-flight requests finish first)."""
    state = ReplicaState(ix.state[replica.pk])
    node = ix.snapshot.nodes.get(replica.node_pk) if replica.node_pk is not None else None
    started_somewhere = node is not None and node.state == NodeState.READY
    if state == ReplicaState.PENDING or (state == ReplicaState.PLACED and not started_somewhere):
        ix.set_state(replica, ReplicaState.STOPPED, reason)
    elif state != ReplicaState.DRAINING:
        ix.set_state(replica, ReplicaState.DRAINING, reason)


def _unplace(ix: Index, replica: ReplicaFacts) -> None:
    """A replica not yet started on a node that goes away simply waits for another node."""
    ix.set_state(replica, ReplicaState.PENDING, "its node is going away; rescheduling")
    replica.node_pk = None  # the store clears node and nodepool of a replica set back to pending


def _add_replica(
    ix: Index, dep: DeploymentFacts, version_pk: int, replaces: ReplicaFacts | None = None
) -> None:
    ref = ix.plan.ref()
    ix.plan.new_replicas.append(
        NewReplicaPlan(
            ref=ref,
            deployment_pk=dep.pk,
            version_pk=version_pk,
            replaces_pk=replaces.pk if replaces else None,
        )
    )
    facts = ReplicaFacts(
        pk=ref,
        id="",
        deployment_pk=dep.pk,
        version_pk=version_pk,
        pool_pk=None,
        node_pk=None,
        state=ReplicaState.PENDING.value,
        replaces_pk=replaces.pk if replaces else None,
        created_at=ix.now,
    )
    ix.by_deployment[dep.pk].append(facts)
    ix.state[ref] = ReplicaState.PENDING
