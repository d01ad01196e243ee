"""What users ask for: the specs of clusters, nodepools and deployments, with their rules.

Specs reject unknown fields (naming them) and check every rule that needs no database: id
syntax, ranges, ``min ≤ max``, delays, priorities. Rules that need the catalog or other objects
(instance types exist in the region, nodepools exist) are the services' job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from flotilla.domain.ids import InstanceTypeId, ObjectId
from flotilla.domain.quantities import Cpu, Memory
from flotilla.domain.states import (
    CapacityType,
    ClusterType,
    DeploymentStatus,
    ManagedBy,
    SchedulingChoice,
    Scope,
)


def _no_nul(value: str) -> str:
    """NUL is never meant in text, and PostgreSQL cannot store it."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    return value


Text = Annotated[str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": r"^[^\x00]*$"})]
"""Free text: any characters but NUL."""
Description = Annotated[Text, Field(max_length=1000, description="Free text shown in lists.")]
Count = Annotated[StrictInt, Field(ge=0, le=10_000)]


class RuleBroken(ValueError):
    """A rule between fields is broken; ``fields`` names each of them, so that an error can
    point at every input involved."""

    def __init__(self, message: str, *fields: str) -> None:
        super().__init__(message)
        self.fields = fields


class Spec(BaseModel):
    """Numbers and booleans are strict (no ``"4"`` for 4, no ``0`` for false): what a spec
    accepts is what its JSON schema says."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AutoscaleConfig(Spec):
    """How a deployment's replica count follows its traffic."""

    min_replicas: Annotated[StrictInt, Field(ge=0, le=1000)] = 0
    max_replicas: Annotated[StrictInt, Field(ge=1, le=1000)] = 5
    target_concurrency: Annotated[StrictFloat, Field(gt=0, le=10_000, allow_inf_nan=False)] = Field(
        4.0, description="In-flight requests per replica the autoscaler aims for."
    )
    traffic_history_seconds: Annotated[StrictInt, Field(ge=10, le=86_400)] = 300
    scale_up_delay_seconds: Annotated[StrictInt, Field(ge=0, le=86_400)] = 0
    scale_down_delay_seconds: Annotated[StrictInt, Field(ge=0, le=86_400)] = 300
    scale_to_zero_delay_seconds: Annotated[StrictInt, Field(ge=0, le=604_800)] = 1800
    warmup_seconds: Annotated[StrictInt, Field(ge=0, le=3600)] = Field(
        120,
        description="How long a new replica can take to serve when it needs a new node "
        "(node launch plus model load): the horizon of burst headroom.",
    )
    burst_memory_seconds: Annotated[StrictInt, Field(ge=0, le=604_800)] = Field(
        10_800,
        description="How long a rise in load is remembered: spare replicas are kept for the "
        "largest rise within warmup_seconds seen over this time. 0 keeps no headroom.",
    )
    disable_packing: StrictBool = Field(
        False, description="Run at most one replica of this deployment per node."
    )

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise RuleBroken(
                f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})",
                "min_replicas",
                "max_replicas",
            )
        if self.scale_to_zero_delay_seconds < self.scale_down_delay_seconds:
            raise RuleBroken(
                f"scale_to_zero_delay_seconds ({self.scale_to_zero_delay_seconds}) must be at least "
                f"scale_down_delay_seconds ({self.scale_down_delay_seconds})",
                "scale_to_zero_delay_seconds",
                "scale_down_delay_seconds",
            )
        if 0 < self.burst_memory_seconds < self.warmup_seconds:
            raise RuleBroken(
                f"burst_memory_seconds ({self.burst_memory_seconds}) must be 0 or at least "
                f"warmup_seconds ({self.warmup_seconds})",
                "burst_memory_seconds",
                "warmup_seconds",
            )
        return self


class ComputeClusterSpec(Spec):
    """A named place to run models: a provider and region, or machines the user brings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "gpu-east",
                    "description": "GPU cluster for the vision team",
                    "cluster_type": "dedicated",
                    "cloud_provider": "aws",
                    "region": "us-east-1",
                }
            ]
        }
    )

    id: ObjectId
    description: Description = ""
    cluster_type: ClusterType = ClusterType.DEDICATED
    cloud_provider: ObjectId = Field(examples=["aws"])
    region: ObjectId = Field(examples=["us-east-1"])
    token_id: ObjectId | None = Field(
        None,
        description="The Personal Access Token the cluster acts with; the caller's own by default.",
    )
    managed_by: ManagedBy | None = Field(
        None,
        description="Who manages the machines: 'flotilla', or 'user' (self_managed, the default there).",
    )

    @model_validator(mode="after")
    def _default_managed_by(self) -> Self:
        if self.managed_by is None:
            self_managed = self.cluster_type == ClusterType.SELF_MANAGED
            self.managed_by = ManagedBy.USER if self_managed else ManagedBy.FLOTILLA
        return self


class NodepoolSpec(Spec):
    """A group of similar nodes inside a cluster, scaled between min and max instances."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a10-pool",
                    "description": "A10G nodes, spot first",
                    "instance_types": ["g5.xlarge", "g5.2xlarge"],
                    "capacity_types": ["spot", "on_demand"],
                    "min_instances": 0,
                    "max_instances": 4,
                }
            ]
        }
    )

    id: ObjectId
    description: Description = ""
    instance_types: Annotated[list[InstanceTypeId], Field(max_length=32)] = Field(
        default_factory=list,
        description="Instance types the pool may launch, in order of preference.",
    )
    min_instances: Count = 0
    max_instances: Count = 1
    capacity_types: Annotated[list[CapacityType], Field(min_length=1, max_length=2)] = Field(
        default_factory=lambda: [CapacityType.ON_DEMAND],
        description="Ordered preference; [spot, on_demand] means spot first, on-demand as fallback.",
    )

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        if self.min_instances > self.max_instances:
            raise RuleBroken(
                f"min_instances ({self.min_instances}) must not exceed max_instances ({self.max_instances})",
                "min_instances",
                "max_instances",
            )
        if len(set(self.instance_types)) != len(self.instance_types):
            raise RuleBroken("instance_types lists the same type twice", "instance_types")
        if len(set(self.capacity_types)) != len(self.capacity_types):
            raise RuleBroken("capacity_types lists the same capacity type twice", "capacity_types")
        return self


class NodepoolRef(Spec):
    """One nodepool a deployment may run on."""

    compute_cluster: ObjectId
    nodepool: ObjectId
    priority: Annotated[StrictInt, Field(ge=0, le=9, description="0–9, higher first.")] = 0


class DeploymentSpec(Spec):
    """A model version served on one or more nodepools."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "sentiment-prod",
                    "model": "sentiment",
                    "model_version": "latest",
                    "nodepools": [
                        {"compute_cluster": "shared", "nodepool": "default", "priority": 0}
                    ],
                    "autoscale_config": {"min_replicas": 0, "max_replicas": 3},
                }
            ]
        }
    )

    id: ObjectId
    description: Description = ""
    model: ObjectId
    model_version: ObjectId = Field(
        "latest", description="A version id, or 'latest' to follow new versions."
    )
    nodepools: Annotated[list[NodepoolRef], Field(max_length=16)] = Field(
        default_factory=list,
        description="Where replicas may run; empty means the shared cluster's default nodepool.",
    )
    scheduling_choice: SchedulingChoice = SchedulingChoice.PRIORITY
    autoscale_config: AutoscaleConfig = Field(default_factory=AutoscaleConfig)
    status: DeploymentStatus = DeploymentStatus.ENABLED

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        seen = {(ref.compute_cluster, ref.nodepool) for ref in self.nodepools}
        if len(seen) != len(self.nodepools):
            raise RuleBroken("nodepools lists the same nodepool twice", "nodepools")
        if self.status == DeploymentStatus.DELETING:
            raise RuleBroken("status may be 'enabled' or 'disabled'", "status")
        return self


class Resources(Spec):
    """What one replica of a model needs."""

    cpu: Cpu = Field(default=1000, description="CPU per replica, e.g. '500m' or '2'.")
    memory: Memory = Field(default=512 * 2**20, description="Memory per replica, e.g. '512Mi'.")
    accelerators: Annotated[StrictInt, Field(ge=0, le=64)] = 0
    accelerator_type: str | None = Field(
        None, max_length=64, description="Required accelerator, wildcards allowed: 'NVIDIA-*'."
    )


class ModelSpec(Spec):
    id: ObjectId
    description: Description = ""


ScopeName = Annotated[str, WithJsonSchema({"type": "string", "enum": [s.value for s in Scope]})]
"""A scope, checked by the spec so that an unknown one is named in the error."""


class TokenSpec(Spec):
    id: ObjectId | None = Field(None, description="Chosen name; generated when omitted.")
    description: Description = ""
    scopes: Annotated[list[ScopeName], Field(min_length=1, max_length=3)] = Field(
        default_factory=lambda: ["read", "write"], examples=[["read", "write"]]
    )
    expires_in_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = Field(
        None, description="Days until the token expires; never when omitted."
    )

    @model_validator(mode="after")
    def _check_scopes(self) -> Self:
        allowed = {"read", "write", "admin"}
        unknown = [s for s in self.scopes if s not in allowed]
        if unknown:
            raise ValueError(f"unknown scope {unknown[0]!r}: use read, write or admin")
        return self


class UserSpec(Spec):
    id: ObjectId
    name: Annotated[Text, Field(max_length=200)] = ""
    email: Annotated[Text, Field(max_length=320)] = ""
    is_admin: StrictBool = False


IMMUTABLE_FIELDS: dict[type[Spec], frozenset[str]] = {
    ComputeClusterSpec: frozenset({"id", "cluster_type", "cloud_provider", "region", "managed_by"}),
    NodepoolSpec: frozenset({"id"}),
    DeploymentSpec: frozenset({"id", "model"}),
    ModelSpec: frozenset({"id"}),
    UserSpec: frozenset({"id"}),
}


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7396): objects merge key by key, everything else is replaced,
    ``null`` resets a key to its default."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):  # a new object is patched onto {}: its nulls vanish
            base = merged.get(key)
            merged[key] = merge_patch(base if isinstance(base, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def partial_model(model: type[Spec], name: str) -> type[Spec]:
    """A PATCH body for ``model``: every field optional and unset by default, nested specs
    partial too, field constraints kept, cross-field rules left to the merged result."""
    from pydantic import create_model

    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Spec):
            annotation = partial_model(annotation, f"{annotation.__name__}Patch")
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        # The id pattern and examples live on the field, not in its metadata: keep them too.
        field = Field(
            None,
            description=info.description,
            json_schema_extra=info.json_schema_extra,
            examples=info.examples,
        )
        fields[field_name] = (annotation | None, field)
    patch: type[Spec] = create_model(name, __base__=Spec, **fields)
    patch.__doc__ = (
        f"Fields of {model.__name__} to change (JSON merge patch): omitted fields stay, "
        "objects merge key by key, null resets a field to its default."
    )
    return patch


if TYPE_CHECKING:  # to type checkers, a patch is a spec whose fields may be missing
    ComputeClusterPatch = Spec
    NodepoolPatch = Spec
    DeploymentPatch = Spec
    ModelPatch = Spec
    UserPatch = Spec
else:
    ComputeClusterPatch = partial_model(ComputeClusterSpec, "ComputeClusterPatch")
    NodepoolPatch = partial_model(NodepoolSpec, "NodepoolPatch")
    DeploymentPatch = partial_model(DeploymentSpec, "DeploymentPatch")
    ModelPatch = partial_model(ModelSpec, "ModelPatch")
    UserPatch = partial_model(UserSpec, "UserPatch")


class TokenPatch(Spec):
    description: Description | None = None
