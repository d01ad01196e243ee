"""Where pending replicas go: onto existing nodes, in each deployment's nodepool order.

Best-fit-decreasing over CPU, memory and accelerators: the biggest replicas are placed first,
each on the node it fills best. Among nodes it fits, a replica prefers (in this order) a ready
node over a launching one, a node already in use over an empty one (an empty node can then be
removed), a node with fewer replicas of its deployment (spreading costs nothing there), then
the tightest fit. ``disable_packing`` allows one replica of the deployment per node. Nothing is
ever over-committed. What fits nowhere is returned for the sizing policy to grow a nodepool.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flotilla.domain.states import SchedulingChoice
from flotilla.policies.shapes import Capacity, Shape


@dataclass(slots=True)
class NodeSlot:
    """A node that may take replicas (not cordoned, not draining, not gone)."""

    key: int
    pool: int
    total: Capacity
    free: Capacity
    ready: bool
    replicas: dict[int, int] = field(default_factory=dict)
    """Live replicas on the node by deployment key."""

    @property
    def empty(self) -> bool:
        return not any(self.replicas.values())


@dataclass(frozen=True, slots=True)
class ReplicaRequest:
    key: int
    deployment: int
    need: Shape
    pools: tuple[int, ...]
    """Nodepools allowed, in the deployment's order of preference."""
    disable_packing: bool = False


@dataclass(frozen=True, slots=True)
class PoolFacts:
    """What ordering by ``scheduling_choice`` needs to know of a nodepool."""

    key: int
    priority: int
    position: int
    price_per_replica: float
    offers_spot: bool
    utilization: float


@dataclass(frozen=True)
class Schedule:
    placements: dict[int, int]
    """Replica key → node key."""
    unplaced: list[ReplicaRequest]


def order_pools(
    choice: SchedulingChoice, pools: Sequence[PoolFacts], deployment: int
) -> tuple[int, ...]:
    """A deployment's nodepools in the order it should try them."""

    def base(p: PoolFacts) -> tuple[int, int]:
        return (-p.priority, p.position)

    if choice == SchedulingChoice.PRICE:
        ranked = sorted(pools, key=lambda p: (p.price_per_replica, *base(p)))
    elif choice == SchedulingChoice.PREFER_SPOT:
        ranked = sorted(pools, key=lambda p: (not p.offers_spot, *base(p)))
    elif choice == SchedulingChoice.PREFER_ON_DEMAND:
        ranked = sorted(pools, key=lambda p: (p.offers_spot, *base(p)))
    elif choice == SchedulingChoice.UTILIZATION:
        ranked = sorted(pools, key=lambda p: (-p.utilization, *base(p)))
    elif choice == SchedulingChoice.RANDOM:
        ranked = sorted(pools, key=lambda p: _stable_hash(deployment, p.key))
    else:
        ranked = sorted(pools, key=base)
    return tuple(p.key for p in ranked)


def _stable_hash(*parts: int) -> bytes:
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()


def _score(node: NodeSlot, request: ReplicaRequest) -> tuple[bool, bool, int, float]:
    return (
        not node.ready,
        node.empty,
        node.replicas.get(request.deployment, 0),
        node.free.leftover_after(request.need, node.total),
    )


def _fits(node: NodeSlot, request: ReplicaRequest) -> bool:
    if request.disable_packing and node.replicas.get(request.deployment, 0):
        return False
    return node.free.fits(request.need)


def place(node: NodeSlot, request: ReplicaRequest) -> None:
    node.free.take(request.need)
    node.replicas[request.deployment] = node.replicas.get(request.deployment, 0) + 1


def schedule(requests: Iterable[ReplicaRequest], nodes: Iterable[NodeSlot]) -> Schedule:
    """Place what fits on the given nodes (whose ``free`` shrinks as replicas land).

    Identical requests (same deployment, shape and nodepools) are placed as a group with a heap
    of candidate nodes, so a pass costs O(R log N) rather than O(R × N).
    """
    by_pool: dict[int, list[NodeSlot]] = {}
    for node in nodes:
        by_pool.setdefault(node.pool, []).append(node)
    groups: dict[tuple[int, Shape, tuple[int, ...], bool], list[ReplicaRequest]] = {}
    for request in requests:
        key = (request.deployment, request.need, request.pools, request.disable_packing)
        groups.setdefault(key, []).append(request)
    placements: dict[int, int] = {}
    unplaced: list[ReplicaRequest] = []
    for key in sorted(groups, key=lambda k: (k[1].size_key(), -k[0]), reverse=True):
        waiting = sorted(groups[key], key=lambda r: r.key, reverse=True)
        for pool in key[2]:
            if not waiting:
                break
            _fill_pool(by_pool.get(pool, []), waiting, placements)
        unplaced.extend(reversed(waiting))
    return Schedule(placements=placements, unplaced=unplaced)


def _fill_pool(
    nodes: list[NodeSlot], waiting: list[ReplicaRequest], placements: dict[int, int]
) -> None:
    """Place from ``waiting`` (popped from its end) onto ``nodes``, best node first."""
    sample = waiting[-1]
    heap = [(_score(n, sample), n.key, n) for n in nodes if _fits(n, sample)]
    heapq.heapify(heap)
    while waiting and heap:
        _, _, node = heapq.heappop(heap)
        request = waiting[-1]
        if not _fits(node, request):
            continue
        waiting.pop()
        place(node, request)
        placements[request.key] = node.key
        if waiting and _fits(node, request):
            heapq.heappush(heap, (_score(node, request), node.key, node))
