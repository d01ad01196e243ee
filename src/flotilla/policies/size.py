"""How many nodes each nodepool needs: nodes to add for replicas that fit nowhere, and empty
nodes to remove.

Growth packs the unplaced replicas (biggest first) onto new nodes, in each deployment's nodepool
order; a nodepool at ``max_instances``, unable to get capacity, or whose types cannot hold the
replica passes it to the next. A new node's instance type is the one in the nodepool's list with
the lowest cost per placed replica (looking ahead at the replicas waiting for that nodepool);
its capacity type the first preferred one not known to be short. Removal takes nodes that have
been empty for the scale-down delay, most expensive first, never below ``min_instances``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flotilla.domain.states import CapacityType
from flotilla.policies.schedule import NodeSlot, ReplicaRequest, place
from flotilla.policies.shapes import Capacity

LOOKAHEAD = 256


@dataclass(frozen=True, slots=True)
class InstanceOption:
    """An instance type a nodepool may launch now, with the capacity types to try in order."""

    type_id: str
    allocatable: Capacity
    capacity_types: tuple[CapacityType, ...]
    prices: tuple[float, ...]
    """Price per hour of each capacity type in ``capacity_types``."""

    @property
    def price(self) -> float:
        return self.prices[0]


@dataclass(frozen=True, slots=True)
class PoolPlan:
    key: int
    name: str
    min_instances: int
    max_instances: int
    live_nodes: int
    """Nodes that count against max (launching, registering, ready; not cordoned)."""
    options: tuple[InstanceOption, ...]
    can_grow: bool = True
    cannot_grow_because: str = "cannot grow"
    """Shown in the deployment's reason when ``can_grow`` is false."""


@dataclass
class NewNode:
    pool: int
    option: InstanceOption
    replicas: list[int] = field(default_factory=list)
    slot: NodeSlot | None = None
    reason: str = ""


@dataclass(frozen=True)
class Growth:
    new_nodes: list[NewNode]
    unplaceable: list[tuple[ReplicaRequest, str]]


def _cheapest_option(
    pool: PoolPlan, request: ReplicaRequest, queue: Sequence[ReplicaRequest]
) -> InstanceOption | None:
    best: tuple[float, int, InstanceOption] | None = None
    ahead = [r for r in queue if pool.key in r.pools][:LOOKAHEAD]
    for index, option in enumerate(pool.options):
        if not option.capacity_types or not request.need.fits_in(
            option.allocatable.cpu,
            option.allocatable.memory,
            option.allocatable.accelerators,
            option.allocatable.accelerator_type,
        ):
            continue
        trial = NodeSlot(
            key=-1,
            pool=pool.key,
            total=option.allocatable,
            free=option.allocatable.copy(),
            ready=False,
        )
        placed = 0
        for candidate in [request, *ahead]:
            if candidate.disable_packing and trial.replicas.get(candidate.deployment):
                continue
            if trial.free.fits(candidate.need):
                place(trial, candidate)
                placed += 1
        cost = option.price / placed
        if best is None or (cost, index) < (best[0], best[1]):
            best = (cost, index, option)
    return None if best is None else best[2]


def plan_growth(unplaced: Sequence[ReplicaRequest], pools: dict[int, PoolPlan]) -> Growth:
    """New nodes (with the replicas they will hold) for replicas that fit on no existing node."""
    queue = sorted(unplaced, key=lambda r: (r.need.size_key(), -r.key), reverse=True)
    bins: dict[int, list[NewNode]] = {}
    unplaceable: list[tuple[ReplicaRequest, str]] = []
    for index, request in enumerate(queue):
        why: list[str] = []
        for pool_key in request.pools:
            pool = pools.get(pool_key)
            if pool is None or not pool.can_grow:
                because = pool.cannot_grow_because if pool else "cannot grow"
                why.append(f"{pool.name if pool else pool_key}: {because}")
                continue
            target = _open_bin(bins.get(pool_key, []), request)
            if target is None:
                if pool.live_nodes + len(bins.get(pool_key, [])) >= pool.max_instances:
                    why.append(f"{pool.name}: at max_instances ({pool.max_instances})")
                    continue
                option = _cheapest_option(pool, request, queue[index + 1 :])
                if option is None:
                    why.append(f"{pool.name}: no instance type with capacity fits")
                    continue
                slot = NodeSlot(
                    key=-1,
                    pool=pool_key,
                    total=option.allocatable,
                    free=option.allocatable.copy(),
                    ready=False,
                )
                target = NewNode(pool=pool_key, option=option, slot=slot)
                bins.setdefault(pool_key, []).append(target)
            assert target.slot is not None
            place(target.slot, request)
            target.replicas.append(request.key)
            break
        else:
            unplaceable.append((request, "; ".join(why) or "no nodepool"))
    new_nodes = [node for pool_bins in bins.values() for node in pool_bins]
    for node in new_nodes:
        node.reason = f"{len(node.replicas)} replicas pending, {node.option.type_id} cheapest fit"
    return Growth(new_nodes=new_nodes, unplaceable=unplaceable)


def _open_bin(bins: list[NewNode], request: ReplicaRequest) -> NewNode | None:
    fitting = [
        b
        for b in bins
        if b.slot is not None
        and b.slot.free.fits(request.need)
        and not (request.disable_packing and b.slot.replicas.get(request.deployment))
    ]
    if not fitting:
        return None
    return min(
        fitting,
        key=lambda b: b.slot.free.leftover_after(request.need, b.slot.total) if b.slot else 0.0,
    )


def plan_minimum(pool: PoolPlan, planned: int) -> list[NewNode]:
    """Nodes to add so the nodepool has ``min_instances`` (cheapest type first)."""
    missing = pool.min_instances - pool.live_nodes - planned
    usable = [o for o in pool.options if o.capacity_types]
    if missing <= 0 or not usable or not pool.can_grow:
        return []
    option = min(usable, key=lambda o: (o.price, pool.options.index(o)))
    return [
        NewNode(pool=pool.key, option=option, reason=f"min_instances is {pool.min_instances}")
        for _ in range(missing)
    ]


@dataclass(frozen=True, slots=True)
class IdleNode:
    key: int
    empty_since: float | None
    """When the node last became empty; None while it holds replicas."""
    price: float


def plan_removal(pool: PoolPlan, nodes: Sequence[IdleNode], delay: float, now: float) -> list[int]:
    """Empty nodes to remove: idle for ``delay``, most expensive first, keeping min_instances."""
    idle = [n for n in nodes if n.empty_since is not None and now - n.empty_since >= delay]
    room = pool.live_nodes - pool.min_instances
    idle.sort(key=lambda n: (-n.price, n.key))
    return [n.key for n in idle[: max(room, 0)]]
