"""SQLAlchemy tables for every object of DESIGN §1.

Rows carry a surrogate integer ``pk``; the user-chosen ``id`` is unique per owner (clusters,
models, deployments) or per parent (nodepools). Rows that controllers reconcile carry lease
columns (``lock_owner``, ``lock_token``, ``lock_expires_at``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: sa.JSON,
        list[Any]: sa.JSON,
    }


def _pk() -> Mapped[int]:
    return mapped_column(sa.Integer, primary_key=True, autoincrement=True)


def _id() -> Mapped[str]:
    return mapped_column(sa.String(64), nullable=False)


class TimestampsMixin:
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    modified_at: Mapped[datetime] = mapped_column(nullable=False)


class LeaseMixin:
    """A controller claims a row by writing these; it writes results only while its token holds."""

    lock_owner: Mapped[str | None] = mapped_column(sa.String(128))
    lock_token: Mapped[str | None] = mapped_column(sa.String(64))
    lock_expires_at: Mapped[datetime | None] = mapped_column()


class UserRow(TimestampsMixin, Base):
    __tablename__ = "users"
    pk: Mapped[int] = _pk()
    id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="", nullable=False)
    email: Mapped[str] = mapped_column(sa.String(320), default="", nullable=False)
    is_admin: Mapped[bool] = mapped_column(default=False, nullable=False)
    is_system: Mapped[bool] = mapped_column(default=False, nullable=False)


class TokenRow(TimestampsMixin, Base):
    __tablename__ = "tokens"
    __table_args__ = (sa.UniqueConstraint("user_pk", "id"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    user_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
    )
    lookup: Mapped[str] = mapped_column(sa.String(32), nullable=False, unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    description: Mapped[str] = mapped_column(sa.String(1000), default="", nullable=False)
    scopes: Mapped[list[Any]] = mapped_column(nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class CloudProviderRow(Base):
    __tablename__ = "cloud_providers"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    source: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)


class RegionRow(Base):
    __tablename__ = "regions"
    provider_id: Mapped[str] = mapped_column(
        sa.ForeignKey("cloud_providers.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)


class InstanceTypeRow(Base):
    __tablename__ = "instance_types"
    __table_args__ = (sa.UniqueConstraint("provider_id", "region_id", "id"),)
    pk: Mapped[int] = _pk()
    provider_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    region_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    id: Mapped[str] = _id()
    cpu_milli: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    memory_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    accelerators: Mapped[int] = mapped_column(default=0, nullable=False)
    accelerator_type: Mapped[str | None] = mapped_column(sa.String(64))
    accelerator_memory_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    architecture: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    price_on_demand: Mapped[float] = mapped_column(sa.Float, nullable=False)
    price_spot: Mapped[float | None] = mapped_column(sa.Float)
    allowed_capacity_types: Mapped[list[Any]] = mapped_column(nullable=False)
    allocatable_cpu_milli: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    allocatable_memory_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    launch_seconds: Mapped[float | None] = mapped_column(sa.Float)


class ClusterRow(TimestampsMixin, LeaseMixin, Base):
    __tablename__ = "compute_clusters"
    __table_args__ = (sa.UniqueConstraint("owner_pk", "id"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    owner_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
    )
    description: Mapped[str] = mapped_column(sa.String(1000), default="", nullable=False)
    cluster_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    cloud_provider: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    region: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    token_pk: Mapped[int | None] = mapped_column(
        sa.ForeignKey("tokens.pk", ondelete="SET NULL"), index=True
    )
    managed_by: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    deleting_at: Mapped[datetime | None] = mapped_column()


class NodepoolRow(TimestampsMixin, LeaseMixin, Base):
    __tablename__ = "nodepools"
    __table_args__ = (sa.UniqueConstraint("cluster_pk", "id"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    cluster_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("compute_clusters.pk", ondelete="CASCADE"), nullable=False
    )
    description: Mapped[str] = mapped_column(sa.String(1000), default="", nullable=False)
    instance_types: Mapped[list[Any]] = mapped_column(nullable=False)
    min_instances: Mapped[int] = mapped_column(nullable=False)
    max_instances: Mapped[int] = mapped_column(nullable=False)
    capacity_types: Mapped[list[Any]] = mapped_column(nullable=False)
    error_reason: Mapped[str | None] = mapped_column(sa.String(64))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    deleting_at: Mapped[datetime | None] = mapped_column()


class NodeRow(TimestampsMixin, LeaseMixin, Base):
    __tablename__ = "nodes"
    __table_args__ = (sa.Index("ix_nodes_nodepool_state", "nodepool_pk", "state"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    nodepool_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("nodepools.pk", ondelete="CASCADE"), nullable=False
    )
    instance_type: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    capacity_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    provider_instance_id: Mapped[str | None] = mapped_column(sa.String(128))
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    price_per_hour: Mapped[float] = mapped_column(sa.Float, nullable=False)
    cordoned: Mapped[bool] = mapped_column(default=False, nullable=False)
    agent_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    capacity: Mapped[dict[str, Any] | None] = mapped_column()
    launched_at: Mapped[datetime | None] = mapped_column()
    registered_at: Mapped[datetime | None] = mapped_column()
    ready_at: Mapped[datetime | None] = mapped_column()
    draining_at: Mapped[datetime | None] = mapped_column()
    terminating_at: Mapped[datetime | None] = mapped_column()
    terminated_at: Mapped[datetime | None] = mapped_column()
    lost_at: Mapped[datetime | None] = mapped_column()
    preempted_at: Mapped[datetime | None] = mapped_column()
    last_heartbeat_at: Mapped[datetime | None] = mapped_column()
    interruption_notice_at: Mapped[datetime | None] = mapped_column()
    interruption_deadline_at: Mapped[datetime | None] = mapped_column()
    launch_attempted_at: Mapped[datetime | None] = mapped_column()
    """Set (and committed) just before the provider is asked to launch: after a crash, a node
    with this set and no instance id is looked up at the provider by its tag."""
    empty_since: Mapped[datetime | None] = mapped_column()
    replaces_pk: Mapped[int | None] = mapped_column(sa.ForeignKey("nodes.pk", ondelete="SET NULL"))
    """The on-demand node this spot node replaces (drained once this one is ready)."""


class ModelRow(TimestampsMixin, Base):
    __tablename__ = "models"
    __table_args__ = (sa.UniqueConstraint("owner_pk", "id"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    owner_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
    )
    description: Mapped[str] = mapped_column(sa.String(1000), default="", nullable=False)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (sa.UniqueConstraint("model_pk", "id"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    model_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("models.pk", ondelete="CASCADE"), nullable=False
    )
    digest: Mapped[str] = mapped_column(sa.String(80), nullable=False, index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    entrypoint: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    resources: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    requirements_hash: Mapped[str | None] = mapped_column(sa.String(80))
    description: Mapped[str] = mapped_column(sa.String(1000), default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)


class DeploymentRow(TimestampsMixin, LeaseMixin, Base):
    __tablename__ = "deployments"
    __table_args__ = (sa.UniqueConstraint("owner_pk", "id"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    owner_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
    )
    description: Mapped[str] = mapped_column(sa.String(1000), default="", nullable=False)
    model_pk: Mapped[int] = mapped_column(sa.ForeignKey("models.pk"), nullable=False, index=True)
    model_version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    scheduling_choice: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    autoscale_config: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    enabled: Mapped[bool] = mapped_column(default=True, nullable=False)
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    deleting_at: Mapped[datetime | None] = mapped_column()
    desired_replicas: Mapped[int] = mapped_column(default=0, server_default="0", nullable=False)
    scaler_state: Mapped[dict[str, Any] | None] = mapped_column()
    last_request_at: Mapped[datetime | None] = mapped_column()
    """When a gateway last saw a request for it (scale to zero counts from here)."""


class DeploymentNodepoolRow(Base):
    __tablename__ = "deployment_nodepools"
    deployment_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("deployments.pk", ondelete="CASCADE"), primary_key=True
    )
    nodepool_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("nodepools.pk", ondelete="CASCADE"), primary_key=True, index=True
    )
    priority: Mapped[int] = mapped_column(default=0, nullable=False)
    position: Mapped[int] = mapped_column(default=0, nullable=False)


class ReplicaRow(TimestampsMixin, LeaseMixin, Base):
    __tablename__ = "replicas"
    __table_args__ = (sa.Index("ix_replicas_deployment_state", "deployment_pk", "state"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    deployment_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("deployments.pk", ondelete="CASCADE"), nullable=False
    )
    model_version_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("model_versions.pk", ondelete="CASCADE"), nullable=False
    )
    nodepool_pk: Mapped[int | None] = mapped_column(
        sa.ForeignKey("nodepools.pk", ondelete="SET NULL"), index=True
    )
    node_pk: Mapped[int | None] = mapped_column(
        sa.ForeignKey("nodes.pk", ondelete="SET NULL"), index=True
    )
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    endpoint: Mapped[str | None] = mapped_column(sa.String(256))
    restarts: Mapped[int] = mapped_column(default=0, nullable=False)
    replaces_pk: Mapped[int | None] = mapped_column(
        sa.ForeignKey("replicas.pk", ondelete="SET NULL"), index=True
    )
    """The replica this one takes over from (moved off a node, or a new version)."""
    started_at: Mapped[datetime | None] = mapped_column()
    ready_at: Mapped[datetime | None] = mapped_column()
    draining_at: Mapped[datetime | None] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_owner_pk_pk", "owner_pk", "pk"),
        sa.Index("ix_events_object", "owner_pk", "object_kind", "object_id"),
    )
    pk: Mapped[int] = _pk()
    time: Mapped[datetime] = mapped_column(nullable=False)
    owner_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
    )
    object_kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    object_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    reason: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    message: Mapped[str] = mapped_column(sa.Text, nullable=False)


class UsageRecordRow(Base):
    """One priced stretch of a node's life (or a replica's share of it, with ``deployment_id``)."""

    __tablename__ = "usage_records"
    __table_args__ = (sa.Index("ix_usage_owner_start", "owner_pk", "start_at"),)
    pk: Mapped[int] = _pk()
    owner_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
    )
    compute_cluster: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    nodepool: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    node: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    deployment: Mapped[str | None] = mapped_column(sa.String(64))
    instance_type: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    capacity_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    start_at: Mapped[datetime] = mapped_column(nullable=False)
    end_at: Mapped[datetime] = mapped_column(nullable=False)
    seconds: Mapped[float] = mapped_column(sa.Float, nullable=False)
    price_per_hour: Mapped[float] = mapped_column(sa.Float, nullable=False)
    cost: Mapped[float] = mapped_column(sa.Float, nullable=False)


class ControllerLeaseRow(Base):
    """Which server replica runs the reconcile pass (leader election by lease)."""

    __tablename__ = "controller_leases"
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    token: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)


class CapacityShortageRow(Base):
    """A provider said "no capacity" for this combination; avoid it until ``until``."""

    __tablename__ = "capacity_shortages"
    provider: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    instance_type: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    capacity_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    until: Mapped[datetime] = mapped_column(nullable=False)


class TrafficSampleRow(Base):
    """What one gateway saw of one deployment over [start_at, end_at)."""

    __tablename__ = "traffic_samples"
    __table_args__ = (sa.Index("ix_traffic_end_deployment", "end_s", "deployment_pk"),)
    pk: Mapped[int] = _pk()
    deployment_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("deployments.pk", ondelete="CASCADE"), nullable=False
    )
    gateway: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    start_s: Mapped[float] = mapped_column(sa.Float, nullable=False)
    """Interval start, seconds since the Unix epoch (so windows are summed in SQL)."""
    end_s: Mapped[float] = mapped_column(sa.Float, nullable=False)

    in_flight: Mapped[float] = mapped_column(sa.Float, nullable=False)
    """Average requests in flight (including held ones) over the interval."""
    arrivals: Mapped[int] = mapped_column(nullable=False)
    held: Mapped[int] = mapped_column(nullable=False)
    """Requests waiting for a replica at the end of the interval."""
    last_request_at: Mapped[datetime | None] = mapped_column()
    latency_ms_p50: Mapped[float | None] = mapped_column(sa.Float)
    latency_ms_p99: Mapped[float | None] = mapped_column(sa.Float)
    errors: Mapped[int] = mapped_column(default=0, nullable=False)


class InstallationRow(Base):
    """This installation's id, made at first start; every instance launched carries it as a tag,
    so the orphan sweep never touches another installation's machines."""

    __tablename__ = "installation"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    catalog_digest: Mapped[str | None] = mapped_column(sa.String(80))
    """Digest of the catalog last copied into the database (copied again when it changes)."""
