"""The provider protocol every source of nodes implements (DESIGN §7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from flotilla.domain.states import CapacityType

TAG_NODE = "flotilla-node"
TAG_NODEPOOL = "flotilla-nodepool"
TAG_CLUSTER = "flotilla-cluster"
TAG_INSTALLATION = "flotilla-installation"


class NoCapacity(Exception):
    """The provider has no capacity of this type and capacity type in the region now."""


class QuotaExceeded(Exception):
    """The account may not launch more of this now (a quota or limit), whatever the capacity."""


class ProviderError(Exception):
    """Any other failure the provider reports; the controller retries with back-off."""


@dataclass(frozen=True)
class LaunchSpec:
    node_id: str
    region: str
    instance_type: str
    capacity_type: CapacityType
    tags: dict[str, str]
    user_data: dict[str, str] = field(default_factory=dict)
    """What the machine's agent needs to join: server URL, node id, node token."""


class InstanceState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class Instance:
    instance_id: str
    instance_type: str
    capacity_type: CapacityType
    state: InstanceState
    tags: dict[str, str]
    launched_at: datetime


class ProviderEventKind(StrEnum):
    INTERRUPTION_NOTICE = "interruption_notice"
    """A spot instance will be reclaimed at ``deadline``."""
    TERMINATED = "terminated"
    """The instance is gone, and Flotilla did not ask for it (reclaimed, crashed, stopped)."""


@dataclass(frozen=True)
class ProviderEvent:
    kind: ProviderEventKind
    instance_id: str
    at: datetime
    deadline: datetime | None = None
    message: str = ""


class Provider(Protocol):
    name: str

    async def launch(self, spec: LaunchSpec) -> Instance:
        """Start one instance tagged with ``spec.tags`` and return it (usually pending).

        Idempotent per ``spec.node_id``: a second call for the same node returns the instance
        the first one started. Raises ``NoCapacity`` or ``QuotaExceeded``; may block for the
        provider's API round trip, never for the machine to boot.
        """
        ...

    async def terminate(self, instance_id: str) -> None:
        """Stop and release the instance. Idempotent; an unknown or gone instance is fine."""
        ...

    async def list_instances(self, tags: dict[str, str]) -> list[Instance]:
        """Instances, not yet terminated, whose tags include all of ``tags``."""
        ...

    async def events(self) -> list[ProviderEvent]:
        """Events since the last call (interruption notices, instances gone); each once."""
        ...
