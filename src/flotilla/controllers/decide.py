"""The reconcile pass's decisions: a pure function from a snapshot to a plan.

Phases, in order: nodes whose heartbeats stopped become ``lost``; each deployment gets its
replica count (autoscale), replacements for replicas that must move, and victims when too many;
pending replicas are scheduled onto nodes, and nodepools grow for what fits nowhere; empty
nodes are removed, ``min_instances`` kept, spot returns; finished deletes are finalized.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flotilla.catalog import Catalog
from flotilla.controllers.plan import Plan
from flotilla.controllers.snapshot import (
    DeploymentFacts,
    NodeFacts,
    PoolRow,
    ReplicaFacts,
    Snapshot,
)
from flotilla.domain.quantities import parse_cpu, parse_memory
from flotilla.domain.specs import AutoscaleConfig
from flotilla.domain.states import EventType, NodeState, ObjectKind, ReplicaState
from flotilla.policies.autoscale import ScaleDecision, ScalerState, TrafficWindow, decide_replicas
from flotilla.policies.shapes import Capacity, Shape

Autoscaler = Callable[
    [AutoscaleConfig, TrafficWindow, ScalerState, int, float], tuple[ScaleDecision, ScalerState]
]
"""A replica autoscaling policy: Flotilla's, or a baseline the benchmark compares it with."""

ACTIVE_NODE_STATES = frozenset({NodeState.LAUNCHING, NodeState.REGISTERING, NodeState.READY})


@dataclass(frozen=True)
class DecideConfig:
    burst_seconds: float = 10.0
    node_empty_seconds: float = 300.0
    """How long an empty node stays when no deployment says otherwise."""
    node_lost_seconds: float = 30.0
    """A ready node silent this long is lost."""
    register_timeout_seconds: float = 600.0
    """A launched node whose agent has not registered by then is lost."""
    rollout_fraction: float = 0.25
    """At most this share of a deployment's replicas is replaced at once for a new version."""
    shortage_seconds: float = 600.0
    providers: frozenset[str] = frozenset()
    """Providers this server can launch with; nodepools elsewhere cannot grow."""
    autoscaler: Autoscaler = decide_replicas


_ENDED: frozenset[str | None] = frozenset({ReplicaState.STOPPED, ReplicaState.FAILED, None})
"""States (as stored or decided) of replicas that are over; None: not known to this pass."""


@dataclass
class Index:
    """The snapshot, indexed, plus what this pass has decided so far."""

    snapshot: Snapshot
    catalog: Catalog
    config: DecideConfig
    plan: Plan = field(default_factory=Plan)
    by_deployment: dict[int, list[ReplicaFacts]] = field(default_factory=lambda: defaultdict(list))
    on_node: dict[int, list[ReplicaFacts]] = field(default_factory=lambda: defaultdict(list))
    state: dict[int, str] = field(default_factory=dict)
    """Current state of every replica (pk or new ref), updated as the pass decides."""
    needs: dict[int, Shape | None] = field(default_factory=dict)
    """Resource shape per model version pk."""
    nodes_by_pool: dict[int, list[NodeFacts]] = field(default_factory=lambda: defaultdict(list))

    @property
    def now(self) -> datetime:
        return self.snapshot.now

    @property
    def now_s(self) -> float:
        return self.snapshot.now.timestamp()

    def live(self, pk: int) -> bool:
        return self.state.get(pk) not in _ENDED

    def set_state(
        self, replica: ReplicaFacts, state: ReplicaState, reason: str | None = None
    ) -> None:
        self.state[replica.pk] = state
        if replica.pk > 0:
            self.plan.replica_states[replica.pk] = (state.value, reason)

    def need(self, version_pk: int, resources: dict[str, object]) -> Shape | None:
        if version_pk not in self.needs:
            try:
                count = resources.get("accelerators") or 0
                kind = resources.get("accelerator_type")
                self.needs[version_pk] = Shape(
                    parse_cpu(resources.get("cpu", "1")),
                    parse_memory(resources.get("memory", "512Mi")),
                    int(count) if isinstance(count, int) else 0,
                    kind if isinstance(kind, str) else None,
                )
            except ValueError:
                self.needs[version_pk] = None
        return self.needs[version_pk]

    def pool_usable(self, pool: PoolRow) -> bool:
        return not pool.deleting and pool.token_problem is None

    def node_capacity(self, node: NodeFacts) -> Capacity | None:
        pool = self.snapshot.pools.get(node.pool_pk)
        if pool is None:
            return None
        if node.capacity:  # self-managed machines report their own allocatable shape
            c = node.capacity
            return Capacity(
                int(c["cpu"]),
                int(c["memory"]),
                int(c.get("accelerators", 0)),
                c.get("accelerator_type"),
            )
        it = self.catalog.instance_type(pool.provider, pool.region, node.instance_type)
        if it is None:
            return None
        a = it.allocatable
        return Capacity(a.cpu, a.memory, a.accelerators, a.accelerator_type)

    def deployment_path(self, dep: DeploymentFacts) -> str:
        return dep.id

    def event_for_deployment(
        self, dep: DeploymentFacts, reason: str, message: str, warning: bool = False
    ) -> None:
        self.plan.event(
            dep.owner_pk,
            ObjectKind.DEPLOYMENT,
            dep.id,
            reason,
            message,
            EventType.WARNING if warning else EventType.NORMAL,
        )

    def event_for_pool(
        self, pool: PoolRow, reason: str, message: str, warning: bool = False
    ) -> None:
        self.plan.event(
            pool.owner_pk,
            ObjectKind.NODEPOOL,
            pool.path,
            reason,
            message,
            EventType.WARNING if warning else EventType.NORMAL,
        )

    def event_for_node(
        self, node: NodeFacts, reason: str, message: str, warning: bool = False
    ) -> None:
        pool = self.snapshot.pools.get(node.pool_pk)
        if pool is None:
            return
        self.plan.event(
            pool.owner_pk,
            ObjectKind.NODE,
            f"{pool.path}/{node.id}",
            reason,
            message,
            EventType.WARNING if warning else EventType.NORMAL,
        )


def build_index(snapshot: Snapshot, catalog: Catalog, config: DecideConfig) -> Index:
    index = Index(snapshot=snapshot, catalog=catalog, config=config)
    for node in snapshot.nodes.values():
        index.nodes_by_pool[node.pool_pk].append(node)
    for replica in snapshot.replicas.values():
        index.by_deployment[replica.deployment_pk].append(replica)

        index.state[replica.pk] = replica.state
        if replica.node_pk is not None:
            index.on_node[replica.node_pk].append(replica)
    return index


def decide(snapshot: Snapshot, catalog: Catalog, config: DecideConfig) -> Plan:
    from flotilla.controllers import decide_nodes, decide_replicas

    index = build_index(snapshot, catalog, config)
    decide_nodes.detect_lost(index)
    decide_replicas.reconcile_deployments(index)
    decide_nodes.schedule_and_grow(index)
    decide_nodes.lifecycle(index)
    decide_nodes.finalize_deletes(index)
    return index.plan
