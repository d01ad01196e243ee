"""First start, and every start: catalog, the system user, the shared cluster, the admin.

Idempotent: running it again changes nothing that exists. On the first start it creates the
admin user and a Personal Access Token, writes ``$FLOTILLA_HOME/credentials`` (mode 0600) and
returns the secret so the entry point can print it once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.credentials import write_credentials
from flotilla.domain.specs import NodepoolSpec, TokenSpec
from flotilla.domain.states import ClusterType, ManagedBy, ObjectKind
from flotilla.services import events, tokens
from flotilla.services.catalog import check_region, sync_catalog
from flotilla.services.context import Context
from flotilla.services.lookup import DEFAULT_NODEPOOL_ID, SHARED_CLUSTER_ID
from flotilla.services.nodepools import check_against_catalog
from flotilla.services.users import SYSTEM_USER
from flotilla.store.tables import ClusterRow, InstallationRow, NodepoolRow, TokenRow, UserRow

BOOTSTRAP_LOCK = 0x466C6F74  # "Flot": one bootstrap at a time across server replicas


@dataclass(frozen=True)
class Bootstrapped:
    admin_token: str | None
    """The admin's first token secret, only on the start that created it."""
    credentials_path: Path | None
    installation_id: str = ""
    """Tags every instance this installation launches."""


async def _ensure_installation(ctx: Context, session: AsyncSession) -> str:
    """This installation's id, and the catalog copied in when it changed."""
    row = await session.scalar(sa.select(InstallationRow))
    if row is None:
        row = InstallationRow(id="flt-" + secrets.token_hex(8), created_at=ctx.now())
        session.add(row)
    if row.catalog_digest != ctx.catalog.digest:
        await sync_catalog(session, ctx.catalog)
        row.catalog_digest = ctx.catalog.digest
    await session.flush()
    return row.id


async def _ensure_user(ctx: Context, session: AsyncSession, user_id: str, **flags: bool) -> UserRow:
    row = await session.scalar(sa.select(UserRow).where(UserRow.id == user_id))
    if row is None:
        now = ctx.now()
        row = UserRow(id=user_id, name=user_id, created_at=now, modified_at=now, **flags)
        session.add(row)
        await session.flush()
    return row


async def _ensure_shared_cluster(ctx: Context, session: AsyncSession, system: UserRow) -> None:
    settings = ctx.settings
    check_region(ctx.catalog, settings.shared_cluster_provider, settings.shared_cluster_region)
    cluster = await session.scalar(
        sa.select(ClusterRow).where(ClusterRow.cluster_type == ClusterType.SHARED.value)
    )
    now = ctx.now()
    if cluster is None:
        cluster = ClusterRow(
            id=SHARED_CLUSTER_ID,
            owner_pk=system.pk,
            description="Shared by every user; deployments that name no nodepool run here",
            cluster_type=ClusterType.SHARED.value,
            cloud_provider=settings.shared_cluster_provider,
            region=settings.shared_cluster_region,
            managed_by=ManagedBy.FLOTILLA.value,
            created_at=now,
            modified_at=now,
        )
        session.add(cluster)
        await session.flush()
        events.record(
            session,
            owner_pk=system.pk,
            kind=ObjectKind.COMPUTE_CLUSTER,
            object_id=SHARED_CLUSTER_ID,
            reason="CLUSTER_CREATED",
            message=f"shared cluster on {cluster.cloud_provider}/{cluster.region}",
            time=now,
        )
    pool = await session.scalar(
        sa.select(NodepoolRow).where(
            NodepoolRow.cluster_pk == cluster.pk, NodepoolRow.id == DEFAULT_NODEPOOL_ID
        )
    )
    if pool is None:
        spec = NodepoolSpec(
            id=DEFAULT_NODEPOOL_ID,
            description="Default nodepool of the shared cluster",
            instance_types=settings.shared_nodepool_instance_types,
            min_instances=0,
            max_instances=settings.shared_nodepool_max_instances,
        )
        check_against_catalog(ctx, cluster, spec)
        session.add(
            NodepoolRow(
                id=spec.id,
                cluster_pk=cluster.pk,
                description=spec.description,
                instance_types=spec.instance_types,
                min_instances=spec.min_instances,
                max_instances=spec.max_instances,
                capacity_types=[c.value for c in spec.capacity_types],
                created_at=now,
                modified_at=now,
            )
        )


async def bootstrap(ctx: Context) -> Bootstrapped:
    async with ctx.db.write() as session:
        if not ctx.db.is_sqlite:
            await session.execute(sa.select(sa.func.pg_advisory_xact_lock(BOOTSTRAP_LOCK)))
        installation = await _ensure_installation(ctx, session)
        system = await _ensure_user(ctx, session, SYSTEM_USER, is_system=True)
        ctx.system_user_pk = system.pk
        await _ensure_shared_cluster(ctx, session, system)
        admin = await _ensure_user(ctx, session, ctx.settings.admin_user, is_admin=True)
        has_token = await session.scalar(
            sa.select(TokenRow.pk).where(TokenRow.user_pk == admin.pk).limit(1)
        )
        secret = None
        if has_token is None:
            token = await tokens.create_token(
                ctx,
                session,
                admin,
                TokenSpec(
                    id="admin",
                    description="created at first start",
                    scopes=["read", "write", "admin"],
                ),
                granted_by=None,
            )
            secret = token.secret
    if secret is None:
        return Bootstrapped(admin_token=None, credentials_path=None, installation_id=installation)
    write_credentials(ctx.settings.credentials_path, ctx.settings.url, secret)
    return Bootstrapped(
        admin_token=secret,
        credentials_path=ctx.settings.credentials_path,
        installation_id=installation,
    )
