"""What a reconcile pass decided: data, written to the store in one transaction afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flotilla.domain.states import CapacityType, EventType, ObjectKind


@dataclass(frozen=True)
class EventRecord:
    owner_pk: int
    kind: ObjectKind
    object_id: str
    reason: str
    message: str
    type: EventType = EventType.NORMAL


@dataclass
class NewNodePlan:
    ref: int
    """Negative: stands for the node's pk until it is inserted."""
    pool_pk: int
    instance_type: str
    capacity_type: CapacityType
    price: float
    reason: str
    replaces_pk: int | None = None


@dataclass
class NewReplicaPlan:
    ref: int
    deployment_pk: int
    version_pk: int
    replaces_pk: int | None = None


@dataclass
class Plan:
    new_nodes: list[NewNodePlan] = field(default_factory=list)
    new_replicas: list[NewReplicaPlan] = field(default_factory=list)
    placements: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Replica pk or ref → (nodepool pk, node pk or ref)."""
    replica_states: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    """Existing replica pk → (new state, reason)."""
    node_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployment_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    delete_deployments: list[int] = field(default_factory=list)
    delete_pools: list[int] = field(default_factory=list)
    delete_clusters: list[int] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    _next_ref: int = -1

    def ref(self) -> int:
        ref = self._next_ref
        self._next_ref -= 1
        return ref

    def update_node(self, pk: int, **values: Any) -> None:
        self.node_updates.setdefault(pk, {}).update(values)

    def event(self, *args: Any, **kwargs: Any) -> None:
        self.events.append(EventRecord(*args, **kwargs))

    @property
    def empty(self) -> bool:
        return not (
            self.new_nodes
            or self.new_replicas
            or self.placements
            or self.replica_states
            or self.node_updates
            or self.deployment_updates
            or self.delete_deployments
            or self.delete_pools
            or self.delete_clusters
            or self.events
        )
