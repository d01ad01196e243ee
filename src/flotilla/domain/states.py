"""Enumerations shared by every interface: types, states and choices."""

from __future__ import annotations

from enum import StrEnum

SELF_MANAGED_PROVIDERS = frozenset({"self_managed"})
"""Providers whose nodes are machines users bring (``flotilla agent --join``): Flotilla never
launches them, and never removes one for being empty."""


class ClusterType(StrEnum):
    SHARED = "shared"
    DEDICATED = "dedicated"
    SELF_MANAGED = "self_managed"


class ClusterStatus(StrEnum):
    ACTIVE = "active"
    ERROR = "error"
    DELETING = "deleting"


class CapacityType(StrEnum):
    SPOT = "spot"
    ON_DEMAND = "on_demand"


class NodepoolStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    SCALING = "scaling"
    ERROR = "error"
    DISABLED = "disabled"
    DELETING = "deleting"


class NodeState(StrEnum):
    LAUNCHING = "launching"
    REGISTERING = "registering"
    READY = "ready"
    DRAINING = "draining"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    LOST = "lost"
    PREEMPTED = "preempted"


NODE_GONE_STATES = frozenset({NodeState.TERMINATED, NodeState.LOST, NodeState.PREEMPTED})
"""States in which a node holds no capacity at its provider."""


class ReplicaState(StrEnum):
    PENDING = "pending"
    PLACED = "placed"
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"
    FAILED = "failed"


REPLICA_ENDED_STATES = frozenset({ReplicaState.STOPPED, ReplicaState.FAILED})


class DeploymentStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETING = "deleting"


class SchedulingChoice(StrEnum):
    PRIORITY = "priority"
    PRICE = "price"
    PREFER_SPOT = "prefer_spot"
    PREFER_ON_DEMAND = "prefer_on_demand"
    UTILIZATION = "utilization"
    RANDOM = "random"


class Scope(StrEnum):
    """What a Personal Access Token may do: read (GET), write (changes), admin (users, shared)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class TokenStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Architecture(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"


class ManagedBy(StrEnum):
    FLOTILLA = "flotilla"
    USER = "user"


class EventType(StrEnum):
    NORMAL = "normal"
    WARNING = "warning"


class ObjectKind(StrEnum):
    USER = "user"
    TOKEN = "token"
    COMPUTE_CLUSTER = "compute_cluster"
    NODEPOOL = "nodepool"
    NODE = "node"
    MODEL = "model"
    MODEL_VERSION = "model_version"
    DEPLOYMENT = "deployment"
    REPLICA = "replica"
