"""What users read back: the resources every interface (API, console, CLI, SDK) shows."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from flotilla.domain.quantities import Cpu, Memory
from flotilla.domain.specs import (
    AutoscaleConfig,
    ComputeClusterSpec,
    DeploymentSpec,
    ModelSpec,
    NodepoolSpec,
    Resources,
)
from flotilla.domain.states import (
    Architecture,
    CapacityType,
    ClusterStatus,
    EventType,
    NodepoolStatus,
    NodeState,
    ReplicaState,
    Scope,
    TokenStatus,
)


class Resource(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Timestamps(Resource):
    created_at: datetime
    modified_at: datetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_page`` is null on the last page."""

    items: list[T]
    page: int
    per_page: int
    next_page: int | None = None


class Region(Resource):
    id: str
    display_name: str


class CloudProvider(Resource):
    id: str
    display_name: str
    regions: list[Region]
    source: str = Field("", description="Where the catalog's prices come from, and when.")


class ComputeInfo(Resource):
    cpu: Cpu
    memory: Memory
    accelerators: int = 0
    accelerator_type: str | None = None
    accelerator_memory: Memory | None = None


class PricePerHour(Resource):
    on_demand: float
    spot: float | None = None


class InstanceType(Resource):
    id: str
    cloud_provider: str
    region: str
    compute_info: ComputeInfo
    architecture: Architecture
    price_per_hour: PricePerHour
    allowed_capacity_types: list[CapacityType]
    allocatable: ComputeInfo = Field(
        description="What replicas may use after the node's own overhead."
    )
    launch_seconds: float | None = Field(
        None, description="Typical time from launch to a ready node (simulated providers)."
    )


class User(Timestamps):
    id: str
    name: str = ""
    email: str = ""
    is_admin: bool = False


class Token(Timestamps):
    id: str
    description: str = ""
    scopes: list[Scope]
    status: TokenStatus
    prefix: str = Field(description="The first characters of the secret, to recognise it.")
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    compute_clusters: list[str] = Field(
        default_factory=list, description="Clusters that act with this token and stop if it goes."
    )


class TokenWithSecret(Token):
    secret: str = Field(description="Shown once, at creation. Store it now.")


class ComputeCluster(ComputeClusterSpec, Timestamps):
    owner: str
    status: ClusterStatus
    status_reason: str | None = None
    nodepool_count: int = 0


class NodeCounts(Resource):
    total: int = 0
    ready: int = 0
    launching: int = 0
    draining: int = 0


class Nodepool(NodepoolSpec, Timestamps):
    compute_cluster: str
    status: NodepoolStatus
    status_reason: str | None = None
    nodes: NodeCounts = Field(default_factory=NodeCounts)


class Node(Timestamps):
    id: str
    compute_cluster: str
    nodepool: str
    instance_type: str
    capacity_type: CapacityType
    provider_instance_id: str | None = None
    state: NodeState
    state_reason: str | None = None
    price_per_hour: float
    launched_at: datetime | None = None
    registered_at: datetime | None = None
    ready_at: datetime | None = None
    draining_at: datetime | None = None
    terminating_at: datetime | None = None
    terminated_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    interruption_notice_at: datetime | None = None


class Model(ModelSpec, Timestamps):
    owner: str
    latest_version: str | None = None
    version_count: int = 0


class ModelVersion(Resource):
    id: str
    model: str
    digest: str = Field(description="sha256 of the package's files: the version's identity.")
    size_bytes: int
    entrypoint: str
    resources: Resources
    requirements_hash: str | None = None
    description: str = ""
    created_at: datetime


class Deployment(DeploymentSpec, Timestamps):
    owner: str
    autoscale_config: AutoscaleConfig
    resolved_model_version: str | None = Field(
        None, description="The version replicas run (what 'latest' points at now)."
    )
    status_reason: str | None = None
    replicas: dict[str, int] = Field(
        default_factory=dict,
        description="Counts of the replicas that have not ended (stopped or failed), by state.",
    )


class Replica(Resource):
    id: str
    deployment: str
    model_version: str
    compute_cluster: str | None = None
    nodepool: str | None = None
    node: str | None = None
    state: ReplicaState
    state_reason: str | None = None
    endpoint: str | None = None
    created_at: datetime
    modified_at: datetime


class Event(Resource):
    id: int
    time: datetime
    object_kind: str
    object_id: str
    type: EventType
    reason: str
    message: str


class DeleteAccepted(Resource):
    """Answer to a DELETE: the object is being deleted, or is gone already."""

    id: str
    status: str = Field(examples=["deleting", "deleted"])
