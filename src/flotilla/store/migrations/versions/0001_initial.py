"""initial schema: every object of DESIGN section 1

Revision ID: 0001
Revises:
Create Date: 2026-11-28 00:37:37.186832
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "cloud_providers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cloud_providers")),
    )
    op.create_table(
        "instance_types",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("cpu_milli", sa.BigInteger(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("accelerators", sa.Integer(), nullable=False),
        sa.Column("accelerator_type", sa.String(length=64), nullable=True),
        sa.Column("accelerator_memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("architecture", sa.String(length=16), nullable=False),
        sa.Column("price_on_demand", sa.Float(), nullable=False),
        sa.Column("price_spot", sa.Float(), nullable=True),
        sa.Column("allowed_capacity_types", sa.JSON(), nullable=False),
        sa.Column("allocatable_cpu_milli", sa.BigInteger(), nullable=False),
        sa.Column("allocatable_memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("launch_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_instance_types")),
        sa.UniqueConstraint(
            "provider_id", "region_id", "id", name=op.f("uq_instance_types_provider_id")
        ),
    )
    op.create_table(
        "users",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_users")),
        sa.UniqueConstraint("id", name=op.f("uq_users_id")),
    )
    op.create_table(
        "events",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner_pk", sa.Integer(), nullable=False),
        sa.Column("object_kind", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_pk"], ["users.pk"], name=op.f("fk_events_owner_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_object", ["owner_pk", "object_kind", "object_id"], unique=False
        )
        batch_op.create_index("ix_events_owner_pk_pk", ["owner_pk", "pk"], unique=False)

    op.create_table(
        "models",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner_pk", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_pk"], ["users.pk"], name=op.f("fk_models_owner_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_models")),
        sa.UniqueConstraint("owner_pk", "id", name=op.f("uq_models_owner_pk")),
    )
    op.create_table(
        "regions",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["cloud_providers.id"],
            name=op.f("fk_regions_provider_id_cloud_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", "id", name=op.f("pk_regions")),
    )
    op.create_table(
        "tokens",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("lookup", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_tokens_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_tokens")),
        sa.UniqueConstraint("lookup", name=op.f("uq_tokens_lookup")),
        sa.UniqueConstraint("user_pk", "id", name=op.f("uq_tokens_user_pk")),
    )
    op.create_table(
        "usage_records",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_pk", sa.Integer(), nullable=False),
        sa.Column("compute_cluster", sa.String(length=64), nullable=False),
        sa.Column("nodepool", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("deployment", sa.String(length=64), nullable=True),
        sa.Column("instance_type", sa.String(length=64), nullable=False),
        sa.Column("capacity_type", sa.String(length=16), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("price_per_hour", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_pk"],
            ["users.pk"],
            name=op.f("fk_usage_records_owner_pk_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_usage_records")),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index("ix_usage_owner_start", ["owner_pk", "start_at"], unique=False)

    op.create_table(
        "compute_clusters",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner_pk", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("cluster_type", sa.String(length=32), nullable=False),
        sa.Column("cloud_provider", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("token_pk", sa.Integer(), nullable=True),
        sa.Column("managed_by", sa.String(length=32), nullable=False),
        sa.Column("deleting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_owner", sa.String(length=128), nullable=True),
        sa.Column("lock_token", sa.String(length=64), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_pk"],
            ["users.pk"],
            name=op.f("fk_compute_clusters_owner_pk_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["token_pk"],
            ["tokens.pk"],
            name=op.f("fk_compute_clusters_token_pk_tokens"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_compute_clusters")),
        sa.UniqueConstraint("owner_pk", "id", name=op.f("uq_compute_clusters_owner_pk")),
    )
    with op.batch_alter_table("compute_clusters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compute_clusters_token_pk"), ["token_pk"], unique=False
        )

    op.create_table(
        "deployments",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner_pk", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("scheduling_choice", sa.String(length=32), nullable=False),
        sa.Column("autoscale_config", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("deleting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_owner", sa.String(length=128), nullable=True),
        sa.Column("lock_token", sa.String(length=64), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_pk"], ["models.pk"], name=op.f("fk_deployments_model_pk_models")
        ),
        sa.ForeignKeyConstraint(
            ["owner_pk"],
            ["users.pk"],
            name=op.f("fk_deployments_owner_pk_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_deployments")),
        sa.UniqueConstraint("owner_pk", "id", name=op.f("uq_deployments_owner_pk")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_model_pk"), ["model_pk"], unique=False)

    op.create_table(
        "model_versions",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("entrypoint", sa.String(length=200), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("requirements_hash", sa.String(length=80), nullable=True),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_pk"],
            ["models.pk"],
            name=op.f("fk_model_versions_model_pk_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model_pk", "id", name=op.f("uq_model_versions_model_pk")),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_versions_digest"), ["digest"], unique=False)

    op.create_table(
        "nodepools",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("cluster_pk", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("instance_types", sa.JSON(), nullable=False),
        sa.Column("min_instances", sa.Integer(), nullable=False),
        sa.Column("max_instances", sa.Integer(), nullable=False),
        sa.Column("capacity_types", sa.JSON(), nullable=False),
        sa.Column("error_reason", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("deleting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_owner", sa.String(length=128), nullable=True),
        sa.Column("lock_token", sa.String(length=64), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cluster_pk"],
            ["compute_clusters.pk"],
            name=op.f("fk_nodepools_cluster_pk_compute_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_nodepools")),
        sa.UniqueConstraint("cluster_pk", "id", name=op.f("uq_nodepools_cluster_pk")),
    )
    op.create_table(
        "deployment_nodepools",
        sa.Column("deployment_pk", sa.Integer(), nullable=False),
        sa.Column("nodepool_pk", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_pk"],
            ["deployments.pk"],
            name=op.f("fk_deployment_nodepools_deployment_pk_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["nodepool_pk"],
            ["nodepools.pk"],
            name=op.f("fk_deployment_nodepools_nodepool_pk_nodepools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "deployment_pk", "nodepool_pk", name=op.f("pk_deployment_nodepools")
        ),
    )
    with op.batch_alter_table("deployment_nodepools", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_nodepools_nodepool_pk"), ["nodepool_pk"], unique=False
        )

    op.create_table(
        "nodes",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("nodepool_pk", sa.Integer(), nullable=False),
        sa.Column("instance_type", sa.String(length=64), nullable=False),
        sa.Column("capacity_type", sa.String(length=16), nullable=False),
        sa.Column("provider_instance_id", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("price_per_hour", sa.Float(), nullable=False),
        sa.Column("cordoned", sa.Boolean(), nullable=False),
        sa.Column("agent_token_hash", sa.String(length=64), nullable=True),
        sa.Column("capacity", sa.JSON(), nullable=True),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("draining_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terminating_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("preempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interruption_notice_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_owner", sa.String(length=128), nullable=True),
        sa.Column("lock_token", sa.String(length=64), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["nodepool_pk"],
            ["nodepools.pk"],
            name=op.f("fk_nodes_nodepool_pk_nodepools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_nodes")),
        sa.UniqueConstraint("id", name=op.f("uq_nodes_id")),
    )
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.create_index("ix_nodes_nodepool_state", ["nodepool_pk", "state"], unique=False)

    op.create_table(
        "replicas",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("deployment_pk", sa.Integer(), nullable=False),
        sa.Column("model_version_pk", sa.Integer(), nullable=False),
        sa.Column("nodepool_pk", sa.Integer(), nullable=True),
        sa.Column("node_pk", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("endpoint", sa.String(length=256), nullable=True),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("draining_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_owner", sa.String(length=128), nullable=True),
        sa.Column("lock_token", sa.String(length=64), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_pk"],
            ["deployments.pk"],
            name=op.f("fk_replicas_deployment_pk_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_replicas_model_version_pk_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["node_pk"], ["nodes.pk"], name=op.f("fk_replicas_node_pk_nodes"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["nodepool_pk"],
            ["nodepools.pk"],
            name=op.f("fk_replicas_nodepool_pk_nodepools"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_replicas")),
        sa.UniqueConstraint("id", name=op.f("uq_replicas_id")),
    )
    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.create_index(
            "ix_replicas_deployment_state", ["deployment_pk", "state"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_replicas_node_pk"), ["node_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_replicas_nodepool_pk"), ["nodepool_pk"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replicas_nodepool_pk"))
        batch_op.drop_index(batch_op.f("ix_replicas_node_pk"))
        batch_op.drop_index("ix_replicas_deployment_state")

    op.drop_table("replicas")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_nodes_nodepool_state")

    op.drop_table("nodes")
    with op.batch_alter_table("deployment_nodepools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_nodepools_nodepool_pk"))

    op.drop_table("deployment_nodepools")
    op.drop_table("nodepools")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_versions_digest"))

    op.drop_table("model_versions")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_model_pk"))

    op.drop_table("deployments")
    with op.batch_alter_table("compute_clusters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_clusters_token_pk"))

    op.drop_table("compute_clusters")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_owner_start")

    op.drop_table("usage_records")
    op.drop_table("tokens")
    op.drop_table("regions")
    op.drop_table("models")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_owner_pk_pk")
        batch_op.drop_index("ix_events_object")

    op.drop_table("events")
    op.drop_table("users")
    op.drop_table("instance_types")
    op.drop_table("cloud_providers")
