"""controllers: leases, shortages, traffic, replacements

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:52:14.422010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "capacity_shortages",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("instance_type", sa.String(length=64), nullable=False),
        sa.Column("capacity_type", sa.String(length=16), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "provider",
            "region",
            "instance_type",
            "capacity_type",
            name=op.f("pk_capacity_shortages"),
        ),
    )
    op.create_table(
        "installation",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("catalog_digest", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.create_table(
        "controller_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_controller_leases")),
    )
    op.create_table(
        "traffic_samples",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment_pk", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=128), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("in_flight", sa.Float(), nullable=False),
        sa.Column("arrivals", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("last_request_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latency_ms_p50", sa.Float(), nullable=True),
        sa.Column("latency_ms_p99", sa.Float(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_pk"],
            ["deployments.pk"],
            name=op.f("fk_traffic_samples_deployment_pk_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_traffic_samples")),
    )
    with op.batch_alter_table("traffic_samples", schema=None) as batch_op:
        batch_op.create_index("ix_traffic_end_deployment", ["end_s", "deployment_pk"], unique=False)

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("desired_replicas", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("scaler_state", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("last_request_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("interruption_deadline_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("launch_attempted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("empty_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replaces_pk", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_nodes_replaces_pk_nodes"),
            "nodes",
            ["replaces_pk"],
            ["pk"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaces_pk", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_replicas_replaces_pk"), ["replaces_pk"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_replicas_replaces_pk_replicas"),
            "replicas",
            ["replaces_pk"],
            ["pk"],
            ondelete="SET NULL",
        )


def downgrade() -> None:

    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_replicas_replaces_pk_replicas"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_replicas_replaces_pk"))
        batch_op.drop_column("replaces_pk")

    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_nodes_replaces_pk_nodes"), type_="foreignkey")
        batch_op.drop_column("replaces_pk")
        batch_op.drop_column("empty_since")
        batch_op.drop_column("launch_attempted_at")
        batch_op.drop_column("interruption_deadline_at")

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("last_request_at")
        batch_op.drop_column("scaler_state")
        batch_op.drop_column("desired_replicas")

    with op.batch_alter_table("traffic_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_traffic_end_deployment")

    op.drop_table("traffic_samples")
    op.drop_table("controller_leases")
    op.drop_table("installation")
    op.drop_table("capacity_shortages")
