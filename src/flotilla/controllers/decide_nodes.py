"""Nodes: lost detection, scheduling and growth, removal, min_instances, spot return, deletes."""

from __future__ import annotations

from collections import defaultdict

from flotilla.controllers.decide import ACTIVE_NODE_STATES, Index
from flotilla.controllers.plan import NewNodePlan
from flotilla.controllers.snapshot import DeploymentFacts, NodeFacts, PoolRow
from flotilla.domain.states import (
    SELF_MANAGED_PROVIDERS,
    CapacityType,
    NodeState,
    ObjectKind,
    ReplicaState,
    SchedulingChoice,
)
from flotilla.policies.capacity import RunningNode, Shortages, capacity_order, spot_return
from flotilla.policies.schedule import NodeSlot, PoolFacts, ReplicaRequest, order_pools, schedule
from flotilla.policies.shapes import Capacity
from flotilla.policies.size import (
    IdleNode,
    InstanceOption,
    NewNode,
    PoolPlan,
    plan_growth,
    plan_minimum,
    plan_removal,
)

UNSCHEDULABLE = "UNSCHEDULABLE"


def _state(ix: Index, node: NodeFacts) -> NodeState:
    return NodeState(ix.plan.node_updates.get(node.pk, {}).get("state", node.state))


def _cordoned(ix: Index, node: NodeFacts) -> bool:
    return bool(ix.plan.node_updates.get(node.pk, {}).get("cordoned", node.cordoned))


def detect_lost(ix: Index) -> None:
    now = ix.now
    for node in ix.snapshot.nodes.values():
        silent = None
        if (
            node.state in (NodeState.READY, NodeState.DRAINING)
            and node.last_heartbeat_at is not None
        ):
            if (now - node.last_heartbeat_at).total_seconds() > ix.config.node_lost_seconds:
                silent = f"no heartbeat for {(now - node.last_heartbeat_at).total_seconds():.0f}s"
        elif node.state == NodeState.REGISTERING:
            since = node.launched_at or node.created_at
            if (now - since).total_seconds() > ix.config.register_timeout_seconds:
                silent = (
                    f"its agent did not register within {ix.config.register_timeout_seconds:.0f}s"
                )
        if silent is None:
            continue
        ix.plan.update_node(
            node.pk, state=NodeState.LOST.value, lost_at=now, state_reason=silent, cordoned=True
        )
        ix.event_for_node(
            node, "NODE_LOST", f"node lost: {silent}; it is terminated and replaced", warning=True
        )
        for replica in ix.on_node.get(node.pk, []):
            if ix.live(replica.pk):
                ix.set_state(replica, ReplicaState.FAILED, "its node was lost")


def _pool_options(ix: Index, pool: PoolRow) -> tuple[InstanceOption, ...]:
    short = Shortages({k: v.timestamp() for k, v in ix.snapshot.shortages.items()})
    options = []
    for type_id in pool.instance_types:
        it = ix.catalog.instance_type(pool.provider, pool.region, type_id)
        if it is None:
            continue
        order = capacity_order(
            pool.capacity_types,
            it.allowed_capacity_types,
            short,
            pool.provider,
            pool.region,
            type_id,
            ix.now_s,
        )
        prices = tuple(
            (it.price_per_hour.spot or it.price_per_hour.on_demand)
            if c == CapacityType.SPOT
            else it.price_per_hour.on_demand
            for c in order
        )
        a = it.allocatable
        options.append(
            InstanceOption(
                type_id,
                Capacity(a.cpu, a.memory, a.accelerators, a.accelerator_type),
                order,
                prices,
            )
        )
    return tuple(options)


def _live_nodes(ix: Index, pool_pk: int) -> list[NodeFacts]:
    return [
        n
        for n in ix.nodes_by_pool.get(pool_pk, [])
        if _state(ix, n) in ACTIVE_NODE_STATES and not _cordoned(ix, n)
    ]


def _pool_plans(ix: Index) -> dict[int, PoolPlan]:
    plans = {}
    for pool in ix.snapshot.pools.values():
        can_grow = ix.pool_usable(pool) and pool.provider in ix.config.providers
        if not ix.pool_usable(pool):
            because = pool.token_problem or "being deleted"
        elif pool.provider in SELF_MANAGED_PROVIDERS:
            because = "its machines join with flotilla agent --join; none has room"
        elif pool.provider not in ix.config.providers:
            because = f"this server has no '{pool.provider}' provider (FLOTILLA_PROVIDERS)"
        else:
            because = "cannot grow"
        plans[pool.pk] = PoolPlan(
            key=pool.pk,
            name=pool.path,
            min_instances=pool.min_instances,
            max_instances=pool.max_instances,
            live_nodes=len(_live_nodes(ix, pool.pk)),
            options=_pool_options(ix, pool),
            can_grow=can_grow,
            cannot_grow_because=because,
        )
    return plans


def _slots(ix: Index) -> dict[int, NodeSlot]:
    slots = {}
    for node in ix.snapshot.nodes.values():
        pool = ix.snapshot.pools.get(node.pool_pk)
        if pool is None or not ix.pool_usable(pool):
            continue
        if _state(ix, node) not in ACTIVE_NODE_STATES or _cordoned(ix, node):
            continue
        capacity = ix.node_capacity(node)
        if capacity is None:
            continue
        slot = NodeSlot(
            key=node.pk,
            pool=node.pool_pk,
            total=capacity,
            free=capacity.copy(),
            ready=node.state == NodeState.READY,
        )
        for replica in ix.on_node.get(node.pk, []):
            if ix.live(replica.pk) and replica.node_pk == node.pk:
                need = ix.need(
                    replica.version_pk, _resources(ix, replica.deployment_pk, replica.version_pk)
                )
                if need is not None:
                    slot.free.take(need)
                    slot.replicas[replica.deployment_pk] = (
                        slot.replicas.get(replica.deployment_pk, 0) + 1
                    )
        slots[node.pk] = slot
    return slots


def _resources(ix: Index, deployment_pk: int, version_pk: int) -> dict[str, object]:
    dep = ix.snapshot.deployments.get(deployment_pk)
    if dep is not None and dep.version is not None and dep.version.pk == version_pk:
        return dep.version.resources
    return ix.snapshot.versions.get(version_pk) or {}


def _utilization(slots: dict[int, NodeSlot]) -> dict[int, float]:
    """Share of each nodepool's CPU that replicas hold."""
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for slot in slots.values():
        totals[slot.pool][0] += slot.total.cpu
        totals[slot.pool][1] += slot.total.cpu - slot.free.cpu
    return {pool: used / total if total else 0.0 for pool, (total, used) in totals.items()}


def _pool_facts(
    ix: Index, dep: DeploymentFacts, plans: dict[int, PoolPlan], utilization: dict[int, float]
) -> list[PoolFacts]:
    facts = []
    need = ix.need(dep.version.pk, dep.version.resources) if dep.version else None
    for pool_pk, priority, position in dep.pools:
        pool = ix.snapshot.pools.get(pool_pk)
        if pool is None or not ix.pool_usable(pool):
            continue
        per_replica = [
            o.price
            / max(
                1,
                min(
                    o.allocatable.cpu // max(need.cpu, 1),
                    o.allocatable.memory // max(need.memory, 1),
                ),
            )
            for o in plans[pool_pk].options
            if need is not None and o.capacity_types
        ]
        facts.append(
            PoolFacts(
                key=pool_pk,
                priority=priority,
                position=position,
                price_per_replica=min(per_replica, default=float("inf")),
                offers_spot=CapacityType.SPOT in pool.capacity_types,
                utilization=utilization.get(pool_pk, 0.0),
            )
        )
    return facts


def schedule_and_grow(ix: Index) -> None:
    plans = _pool_plans(ix)
    slots = _slots(ix)
    utilization = _utilization(slots)
    requests = []
    for dep in ix.snapshot.deployments.values():
        if dep.deleting or not dep.enabled or dep.version is None:
            continue
        pending = [
            r
            for r in ix.by_deployment[dep.pk]
            if ix.state.get(r.pk) == ReplicaState.PENDING and r.node_pk is None
        ]
        if not pending:
            continue
        cfg = dep.autoscale
        facts = _pool_facts(ix, dep, plans, utilization)
        order = order_pools(SchedulingChoice(dep.scheduling_choice), facts, dep.pk)
        for replica in pending:
            need = ix.need(replica.version_pk, _resources(ix, dep.pk, replica.version_pk))

            if need is None:
                continue
            requests.append(ReplicaRequest(replica.pk, dep.pk, need, order, cfg.disable_packing))
    result = schedule(requests, slots.values())
    for replica_key, node_pk in result.placements.items():
        _place(ix, replica_key, slots[node_pk].pool, node_pk)
    growth = plan_growth(result.unplaced, plans)
    _add_nodes(ix, growth.new_nodes, plans)
    _report_unschedulable(ix, growth.unplaceable)


def _place(ix: Index, replica_key: int, pool_pk: int, node_key: int) -> None:
    ix.plan.placements[replica_key] = (pool_pk, node_key)
    replica = ix.snapshot.replicas.get(replica_key)
    if replica is not None:
        ix.set_state(replica, ReplicaState.PLACED)
    else:
        ix.state[replica_key] = ReplicaState.PLACED


def _add_nodes(ix: Index, new_nodes: list[NewNode], plans: dict[int, PoolPlan]) -> None:
    by_pool: dict[int, list[NewNode]] = defaultdict(list)
    for new in new_nodes:
        by_pool[new.pool].append(new)
        ref = ix.plan.ref()
        ix.plan.new_nodes.append(
            NewNodePlan(
                ref,
                new.pool,
                new.option.type_id,
                new.option.capacity_types[0],
                new.option.price,
                new.reason,
            )
        )
        for replica_key in new.replicas:
            _place(ix, replica_key, new.pool, ref)
    for pool_pk, added in by_pool.items():
        pool = ix.snapshot.pools[pool_pk]
        before = plans[pool_pk].live_nodes
        reasons = "; ".join(sorted({n.reason for n in added}))
        ix.event_for_pool(
            pool,
            "NODEPOOL_SCALE_UP",
            f"nodepool {pool.id} {before}→{before + len(added)} nodes: {reasons}",
        )


def _report_unschedulable(ix: Index, unplaceable: list[tuple[ReplicaRequest, str]]) -> None:
    why: dict[int, list[str]] = defaultdict(list)
    for request, reason in unplaceable:
        why[request.deployment].append(reason)
    for dep in ix.snapshot.deployments.values():
        reasons = why.get(dep.pk)
        current = dep.status_reason or ""
        if reasons:
            text = f"{UNSCHEDULABLE}: {len(reasons)} replicas cannot be placed: {sorted(set(reasons))[0]}"
            if text != current:
                ix.plan.deployment_updates.setdefault(dep.pk, {})["status_reason"] = text
                ix.event_for_deployment(dep, UNSCHEDULABLE, text, warning=True)
        elif current.startswith(UNSCHEDULABLE):
            ix.plan.deployment_updates.setdefault(dep.pk, {})["status_reason"] = None


def _occupied(ix: Index) -> set[int]:
    """Nodes (pks and new refs) that hold or will hold a live replica after this pass."""
    busy = {key for _, key in ix.plan.placements.values()}
    for node_pk, replicas in ix.on_node.items():
        if any(ix.live(r.pk) and r.node_pk == node_pk for r in replicas):
            busy.add(node_pk)
    return busy


def _node_scale_down_delay(ix: Index) -> dict[int, float]:
    delay: dict[int, float] = {}
    for dep in ix.snapshot.deployments.values():
        seconds = float(
            dep.autoscale_config.get("scale_down_delay_seconds", ix.config.node_empty_seconds)
        )
        for pool_pk, _, _ in dep.pools:
            delay[pool_pk] = max(delay.get(pool_pk, 0.0), seconds)
    return delay


def lifecycle(ix: Index) -> None:
    busy = _occupied(ix)
    delays = _node_scale_down_delay(ix)
    plans = _pool_plans(ix)
    for pool in ix.snapshot.pools.values():
        nodes = [n for n in ix.nodes_by_pool.get(pool.pk, []) if _state(ix, n) != NodeState.LOST]
        idle = []
        for node in nodes:
            state = _state(ix, node)
            if state in (NodeState.TERMINATING,):
                continue
            empty = node.pk not in busy
            if not ix.pool_usable(pool) and not _cordoned(ix, node):
                ix.plan.update_node(
                    node.pk,
                    cordoned=True,
                    state_reason=pool.token_problem or "nodepool being deleted",
                )
            if _cordoned(ix, node) or state == NodeState.DRAINING:
                if empty:
                    _terminate(ix, node, "drained")
                elif state != NodeState.DRAINING:
                    ix.plan.update_node(node.pk, state=NodeState.DRAINING.value, draining_at=ix.now)
                continue
            if empty and node.empty_since is None:
                ix.plan.update_node(node.pk, empty_since=ix.now)
            elif not empty and node.empty_since is not None:
                ix.plan.update_node(node.pk, empty_since=None)
            since = (node.empty_since or ix.now) if empty else None
            idle.append(IdleNode(node.pk, since.timestamp() if since else None, node.price))
        delay = delays.get(pool.pk, ix.config.node_empty_seconds)
        if pool.provider in SELF_MANAGED_PROVIDERS:
            idle = []  # the user's own machines: they stay until the user stops their agent
        for node_pk in plan_removal(plans[pool.pk], idle, delay, ix.now_s):
            _terminate(ix, ix.snapshot.nodes[node_pk], f"empty for {delay:.0f}s")
        planned = sum(1 for n in ix.plan.new_nodes if n.pool_pk == pool.pk)
        _add_nodes(ix, plan_minimum(plans[pool.pk], planned), plans)
        _spot_return(ix, pool, plans[pool.pk])


def _terminate(ix: Index, node: NodeFacts, why: str) -> None:
    ix.plan.update_node(
        node.pk, state=NodeState.TERMINATING.value, terminating_at=ix.now, state_reason=why
    )
    ix.event_for_node(
        node,
        "NODE_TERMINATING",
        f"terminating node {node.id} ({node.instance_type}, {node.capacity_type.value}): {why}",
    )


def _spot_return(ix: Index, pool: PoolRow, plan: PoolPlan) -> None:
    if not plan.can_grow:
        return
    nodes = [n for n in ix.nodes_by_pool.get(pool.pk, []) if _state(ix, n) in ACTIVE_NODE_STATES]
    for node in nodes:  # a spot replacement that is ready: the on-demand node it replaces drains
        if node.replaces_pk is not None and node.state == NodeState.READY:
            old = ix.snapshot.nodes.get(node.replaces_pk)
            if old is not None and not _cordoned(ix, old) and _state(ix, old) in ACTIVE_NODE_STATES:
                ix.plan.update_node(
                    old.pk, cordoned=True, state_reason=f"replaced by spot node {node.id}"
                )
                ix.event_for_node(
                    old,
                    "SPOT_RETURN",
                    f"spot node {node.id} is ready: draining on-demand node {old.id}",
                )
    replacing = any(n.replaces_pk is not None and n.state != NodeState.READY for n in nodes)
    short = Shortages({k: v.timestamp() for k, v in ix.snapshot.shortages.items()})
    running = [
        RunningNode(
            n.pk,
            n.pool_pk,
            n.instance_type,
            n.capacity_type,
            n.state == NodeState.READY,
            _cordoned(ix, n),
        )
        for n in nodes
    ]
    spot_ok = {o.type_id: CapacityType.SPOT in o.capacity_types for o in plan.options}
    chosen = spot_return(
        pool.capacity_types,
        running,
        spot_ok,
        short,
        pool.provider,
        pool.region,
        ix.now_s,
        replacing,
    )
    if chosen is None:
        return
    option = next(o for o in plan.options if o.type_id == chosen.instance_type)
    ref = ix.plan.ref()
    reason = f"spot available again: replacing on-demand node {ix.snapshot.nodes[chosen.key].id}"
    ix.plan.new_nodes.append(
        NewNodePlan(
            ref,
            pool.pk,
            option.type_id,
            CapacityType.SPOT,
            option.prices[0],
            reason,
            replaces_pk=chosen.key,
        )
    )
    ix.event_for_pool(pool, "SPOT_RETURN", reason)


def finalize_deletes(ix: Index) -> None:
    for dep in ix.snapshot.deployments.values():
        if dep.deleting and not any(ix.live(r.pk) for r in ix.by_deployment[dep.pk]):
            ix.plan.delete_deployments.append(dep.pk)
            ix.event_for_deployment(dep, "DEPLOYMENT_DELETED", "deleted: every replica has stopped")
    remaining: dict[int, int] = defaultdict(int)
    running = {r.pool_pk for r in ix.snapshot.replicas.values() if ix.live(r.pk)}
    for pool in ix.snapshot.pools.values():
        if pool.deleting and not ix.nodes_by_pool.get(pool.pk) and pool.pk not in running:
            ix.plan.delete_pools.append(pool.pk)
            ix.event_for_pool(pool, "NODEPOOL_DELETED", "deleted: its nodes are terminated")
        else:
            remaining[pool.cluster_pk] += 1
    for cluster_pk, (cluster_id, owner_pk) in ix.snapshot.clusters_deleting.items():
        if remaining[cluster_pk] == 0:
            ix.plan.delete_clusters.append(cluster_pk)
            ix.plan.event(
                owner_pk,
                ObjectKind.COMPUTE_CLUSTER,
                cluster_id,
                "CLUSTER_DELETED",
                "deleted: its nodepools are gone",
            )
