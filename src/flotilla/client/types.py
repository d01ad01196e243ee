"""The SDK's typed resources: the very models the server answers with (``flotilla.domain``), and
the few answers that live beside their routes, mirrored here so that the SDK does not import the
server (a test keeps each mirror's schema equal to its original)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flotilla.domain.resources import (
    CloudProvider,
    ComputeCluster,
    DeleteAccepted,
    Deployment,
    Event,
    InstanceType,
    Model,
    ModelVersion,
    Node,
    Nodepool,
    Page,
    Region,
    Replica,
    Token,
    TokenWithSecret,
    User,
)


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UsageRow(Answer):
    key: str = Field(
        description="The cluster, 'cluster/nodepool', deployment, instance type or capacity type."
    )
    node_hours: float
    cost: float = Field(description="USD.")


class Usage(Answer):
    """Node-hours and cost over ``since``–``until``, grouped by ``group_by``."""

    group_by: Literal["compute_cluster", "nodepool", "deployment", "instance_type", "capacity_type"]
    since: datetime
    until: datetime
    rows: list[UsageRow]
    total_cost: float


class ApplyResult(Answer):
    kind: Literal["compute_cluster", "nodepool", "deployment"]
    id: str
    compute_cluster: str | None = None
    action: Literal["created", "updated", "unchanged"]


class ApplyResponse(Answer):
    results: list[ApplyResult]
    dry_run: bool = False


class UserCreated(Answer):
    """A new user and their first token (whose secret is shown only here)."""

    user: User
    token: TokenWithSecret


class LogLine(Answer):
    """One line a replica wrote."""

    time: datetime
    replica: str
    stream: str = Field(description="stdout or stderr.")
    text: str


class LogLines(Answer):
    lines: list[LogLine]


__all__ = [
    "ApplyResponse",
    "ApplyResult",
    "CloudProvider",
    "ComputeCluster",
    "DeleteAccepted",
    "Deployment",
    "Event",
    "InstanceType",
    "LogLine",
    "LogLines",
    "Model",
    "ModelVersion",
    "Node",
    "Nodepool",
    "Page",
    "Region",
    "Replica",
    "Token",
    "TokenWithSecret",
    "Usage",
    "UsageRow",
    "User",
    "UserCreated",
]
