"""Acting at providers: launch and terminate the nodes the reconciler asked for.

Every launch is written ahead (``launch_attempted_at``, committed) before the provider is
called, and carries the node's id as a tag. A controller that dies between the call and the
commit leaves a node row that the next claimant looks up at the provider by that tag and adopts
— no orphan, no duplicate. Rows are claimed with leases, so two server replicas never act on the
same node.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.controllers import provider_sync
from flotilla.controllers.usage import record_node_usage
from flotilla.domain.states import (
    SELF_MANAGED_PROVIDERS,
    CapacityType,
    EventType,
    NodeState,
    ObjectKind,
    ReplicaState,
)
from flotilla.providers.base import (
    TAG_CLUSTER,
    TAG_INSTALLATION,
    TAG_NODE,
    TAG_NODEPOOL,
    Instance,
    LaunchSpec,
    NoCapacity,
    Provider,
    ProviderError,
    QuotaExceeded,
)
from flotilla.providers.registry import ProviderRegistry
from flotilla.services import events
from flotilla.services.agents import hash_node_token
from flotilla.services.context import Context
from flotilla.store.leases import claim_rows
from flotilla.store.tables import CapacityShortageRow, ClusterRow, NodepoolRow, NodeRow, ReplicaRow

log = logging.getLogger("flotilla.actuator")

NO_CAPACITY = "NO_CAPACITY"
QUOTA = "QUOTA_EXCEEDED"
NO_PROVIDER = "PROVIDER_NOT_CONFIGURED"
LAUNCH_ERRORS = (NO_CAPACITY, QUOTA, NO_PROVIDER)
"""Why a nodepool cannot get nodes: shown on it until one of its launches succeeds."""


@dataclass(frozen=True)
class Job:
    """A claimed node and what acting on it needs to know."""

    pk: int
    id: str
    token: str
    instance_type: str
    capacity_type: CapacityType
    provider_instance_id: str | None
    launch_attempted: bool
    state: str
    pool_pk: int
    pool_id: str
    preference: tuple[CapacityType, ...]
    cluster_id: str
    owner_pk: int
    provider: str
    region: str

    @property
    def path(self) -> str:
        return f"{self.cluster_id}/{self.pool_id}/{self.id}"


class Actuator:
    def __init__(
        self,
        ctx: Context,
        providers: ProviderRegistry,
        owner: str,
        *,
        installation: str,
        lease_seconds: float | None = None,
        concurrency: int = 16,
    ) -> None:
        self.ctx = ctx
        self.providers = providers
        self.owner = owner
        self.installation = installation
        self.lease_seconds = lease_seconds or ctx.settings.lease_seconds

        self._limit = asyncio.Semaphore(concurrency)

    LAUNCH = sa.or_(
        NodeRow.state == NodeState.LAUNCHING.value,
        # launched, then the launcher died before recording the instance: adopt it by its tag
        # (its agent may have registered meanwhile)
        sa.and_(
            NodeRow.provider_instance_id.is_(None),
            NodeRow.launch_attempted_at.is_not(None),
            NodeRow.state.in_(
                [NodeState.REGISTERING.value, NodeState.READY.value, NodeState.DRAINING.value]
            ),
        ),
    )
    TERMINATE = sa.or_(
        NodeRow.state == NodeState.TERMINATING.value,
        sa.and_(NodeRow.state == NodeState.LOST.value, NodeRow.terminated_at.is_(None)),
    )

    def _mine(self) -> sa.ColumnElement[bool]:
        """Nodes this server can act on: those of its providers (and machines users brought).
        A server replica without a cluster's provider leaves its nodes to one that has it."""
        providers = [*self.providers.names(), *SELF_MANAGED_PROVIDERS]
        return NodeRow.nodepool_pk.in_(
            sa.select(NodepoolRow.pk)
            .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
            .where(ClusterRow.cloud_provider.in_(providers))
        )

    async def run_once(self) -> int:
        """One round: launches, terminations, provider events. Returns how many nodes changed."""
        done = 0
        if await self._has_work():
            done += await self._run(sa.and_(self.LAUNCH, self._mine()), self._launch)
            done += await self._run(sa.and_(self.TERMINATE, self._mine()), self._terminate)
        done += await self.handle_events()
        return done

    async def _has_work(self) -> bool:
        """A cheap read first: most rounds find nothing to claim."""
        async with self.ctx.db.read() as s:
            found = await s.scalar(
                sa.select(NodeRow.pk)
                .where(sa.or_(self.LAUNCH, self.TERMINATE), self._mine())
                .limit(1)
            )
        return found is not None

    async def _run(self, where: sa.ColumnElement[bool], act: object) -> int:
        jobs = await self._claim(where)
        if not jobs:
            return 0
        assert callable(act)
        await asyncio.gather(*(self._guarded(act, job) for job in jobs))
        return len(jobs)

    async def _guarded(self, act: object, job: Job) -> None:
        assert callable(act)
        async with self._limit:
            try:
                await act(job)
            except ProviderError as error:
                log.warning("provider error on node %s: %s (will retry)", job.id, error)
                await self._release(job)

    async def _claim(self, where: sa.ColumnElement[bool]) -> list[Job]:
        now = self.ctx.now()
        async with self.ctx.db.write() as s:
            token, pks = await claim_rows(
                s,
                NodeRow,
                where,
                self.owner,
                self.lease_seconds,
                now,
                postgres=not self.ctx.db.is_sqlite,
            )
            if not pks:
                return []
            rows = await s.execute(
                sa.select(
                    NodeRow.pk,
                    NodeRow.id,
                    NodeRow.instance_type,
                    NodeRow.capacity_type,
                    NodeRow.provider_instance_id,
                    NodeRow.launch_attempted_at,
                    NodeRow.state,
                    NodepoolRow.pk,
                    NodepoolRow.id,
                    NodepoolRow.capacity_types,
                    ClusterRow.id,
                    ClusterRow.owner_pk,
                    ClusterRow.cloud_provider,
                    ClusterRow.region,
                )
                .join(NodepoolRow, NodepoolRow.pk == NodeRow.nodepool_pk)
                .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
                .where(NodeRow.pk.in_(pks))
            )
            return [
                Job(
                    pk,
                    nid,
                    token,
                    itype,
                    CapacityType(cap),
                    iid,
                    attempted is not None,
                    state,
                    pool_pk,
                    pool_id,
                    tuple(CapacityType(c) for c in prefs),
                    cluster_id,
                    owner,
                    provider,
                    region,
                )
                for pk, nid, itype, cap, iid, attempted, state, pool_pk, pool_id, prefs, cluster_id, owner, provider, region in rows.all()
            ]

    async def _release(self, job: Job) -> None:
        async with self.ctx.db.write() as s:
            await s.execute(
                sa.update(NodeRow)
                .where(NodeRow.pk == job.pk, NodeRow.lock_token == job.token)
                .values(lock_owner=None, lock_token=None, lock_expires_at=None)
            )

    def _tags(self, job: Job) -> dict[str, str]:
        return {
            TAG_NODE: job.id,
            TAG_NODEPOOL: job.pool_id,
            TAG_CLUSTER: job.cluster_id,
            TAG_INSTALLATION: self.installation,
        }

    # launching ------------------------------------------------------------------------------

    async def _launch(self, job: Job) -> None:
        provider = self.providers.get(job.provider)
        if provider is None:
            await self._give_up(job, NO_PROVIDER, f"this server has no '{job.provider}' provider")
            return
        if job.launch_attempted:
            found = await provider.list_instances({TAG_NODE: job.id})
            if found:
                await self._adopt(job, provider, found)
                return
            if job.state != NodeState.LAUNCHING.value:  # it ran, and its instance is gone now
                await self._give_up(
                    job, "INSTANCE_GONE", "its instance no longer exists at the provider"
                )
                return

        secret = "fln_" + secrets.token_urlsafe(32)
        async with self.ctx.db.write() as s:  # written ahead, committed before the provider call
            result = await s.execute(
                sa.update(NodeRow)
                .where(NodeRow.pk == job.pk, NodeRow.lock_token == job.token)
                .values(
                    launch_attempted_at=self.ctx.now(), agent_token_hash=hash_node_token(secret)
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return  # the lease lapsed; whoever holds it now carries on
        failures: list[str] = []
        for capacity_type in self._attempts(job):
            spec = LaunchSpec(
                node_id=job.id,
                region=job.region,
                instance_type=job.instance_type,
                capacity_type=capacity_type,
                tags=self._tags(job),
                user_data={
                    "server_url": self.ctx.settings.url,
                    "node_id": job.id,
                    "node_token": secret,
                },
            )
            try:
                instance = await provider.launch(spec)
            except NoCapacity as error:
                failures.append(f"{capacity_type.value}: {error or 'no capacity'}")
                await self._remember_shortage(job, capacity_type, str(error))
                continue
            except QuotaExceeded as error:
                await self._give_up(
                    job, QUOTA, f"{job.instance_type} {capacity_type.value}: {error}"
                )
                return
            await self._launched(job, instance, capacity_type, failures)
            return
        await self._give_up(
            job, NO_CAPACITY, f"{job.instance_type} in {job.region}: " + "; ".join(failures)
        )

    def _attempts(self, job: Job) -> list[CapacityType]:
        """The planned capacity type first, then the nodepool's other preferences the type offers."""
        it = self.ctx.catalog.instance_type(job.provider, job.region, job.instance_type)
        allowed = it.allowed_capacity_types if it else [job.capacity_type]
        rest = [c for c in job.preference if c != job.capacity_type and c in allowed]
        return [job.capacity_type, *rest]

    def _price(self, job: Job, capacity_type: CapacityType) -> float:
        it = self.ctx.catalog.instance_type(job.provider, job.region, job.instance_type)
        if it is None:
            return 0.0
        if capacity_type == CapacityType.SPOT and it.price_per_hour.spot is not None:
            return it.price_per_hour.spot
        return it.price_per_hour.on_demand

    async def _remember_shortage(self, job: Job, capacity_type: CapacityType, why: str) -> None:
        now = self.ctx.now()
        until = now + timedelta(seconds=self.ctx.settings.shortage_seconds)
        async with self.ctx.db.write() as s:
            await s.merge(
                CapacityShortageRow(
                    provider=job.provider,
                    region=job.region,
                    instance_type=job.instance_type,
                    capacity_type=capacity_type.value,
                    until=until,
                )
            )
            fallback = (
                capacity_type == CapacityType.SPOT and CapacityType.ON_DEMAND in job.preference
            )
            events.record(
                s,
                owner_pk=job.owner_pk,
                kind=ObjectKind.NODEPOOL,
                object_id=f"{job.cluster_id}/{job.pool_id}",
                reason="CAPACITY_SHORTAGE",
                message=f"no {capacity_type.value} capacity for {job.instance_type} in {job.region}"
                + (": falling back to on-demand" if fallback else "")
                + (f" ({why})" if why else ""),
                time=now,
                type=EventType.WARNING,
            )

    async def _launched(
        self, job: Job, instance: Instance, capacity_type: CapacityType, failures: list[str]
    ) -> None:
        now = self.ctx.now()
        async with self.ctx.db.write() as s:
            result = await s.execute(
                sa.update(NodeRow)
                .where(NodeRow.pk == job.pk, NodeRow.lock_token == job.token)
                .values(
                    provider_instance_id=instance.instance_id,
                    capacity_type=capacity_type.value,
                    price_per_hour=self._price(job, capacity_type),
                    launched_at=instance.launched_at,
                    state=sa.case(
                        (NodeRow.state == NodeState.LAUNCHING.value, NodeState.REGISTERING.value),
                        else_=NodeRow.state,
                    ),
                    state_reason=None,
                    modified_at=now,
                    lock_owner=None,
                    lock_token=None,
                    lock_expires_at=None,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return  # the new lease holder adopts the instance by its tag
            await s.execute(
                sa.update(NodepoolRow)
                .where(
                    NodepoolRow.pk == job.pool_pk,
                    NodepoolRow.error_reason.in_(LAUNCH_ERRORS),
                )
                .values(error_reason=None, error_message=None)
            )
            fell_back = f" after {'; '.join(failures)}" if failures else ""
            events.record(
                s,
                owner_pk=job.owner_pk,
                kind=ObjectKind.NODE,
                object_id=job.path,
                reason="NODE_LAUNCHED",
                message=f"launched {job.instance_type} ({capacity_type.value}) as {instance.instance_id}{fell_back}",
                time=now,
            )

    async def _adopt(self, job: Job, provider: Provider, found: list[Instance]) -> None:
        keep, *extra = sorted(found, key=lambda i: i.launched_at)
        for duplicate in extra:
            await provider.terminate(duplicate.instance_id)
        await self._launched(job, keep, keep.capacity_type, [])
        log.info(
            "adopted instance %s for node %s after an interrupted launch", keep.instance_id, job.id
        )

    async def _give_up(self, job: Job, reason: str, message: str) -> None:
        """No capacity anywhere for this node: it ends, its replicas wait for another, and the
        nodepool shows why until a launch succeeds."""
        now = self.ctx.now()
        async with self.ctx.db.write() as s:
            result = await s.execute(
                sa.update(NodeRow)
                .where(NodeRow.pk == job.pk, NodeRow.lock_token == job.token)
                .values(
                    state=NodeState.TERMINATED.value,
                    terminated_at=now,
                    state_reason=f"{reason}: {message}",
                    modified_at=now,
                    lock_owner=None,
                    lock_token=None,
                    lock_expires_at=None,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return
            await self._unplace(s, job.pk, now)
            if reason in LAUNCH_ERRORS:  # a vanished instance says nothing of the nodepool
                await s.execute(
                    sa.update(NodepoolRow)
                    .where(NodepoolRow.pk == job.pool_pk)
                    .values(error_reason=reason, error_message=message)
                )
            events.record(
                s,
                owner_pk=job.owner_pk,
                kind=ObjectKind.NODEPOOL,
                object_id=f"{job.cluster_id}/{job.pool_id}",
                reason=reason,
                message=f"could not launch node {job.id}: {message}",
                time=now,
                type=EventType.WARNING,
            )

    @staticmethod
    async def _unplace(s: AsyncSession, node_pk: int, now: datetime) -> None:
        await s.execute(
            sa.update(ReplicaRow)
            .where(ReplicaRow.node_pk == node_pk, ReplicaRow.state == ReplicaState.PLACED.value)
            .values(
                state=ReplicaState.PENDING.value, node_pk=None, nodepool_pk=None, modified_at=now
            )
        )

    # terminating ----------------------------------------------------------------------------

    async def _terminate(self, job: Job) -> None:
        provider = self.providers.get(job.provider)
        if provider is not None:
            if job.provider_instance_id:
                await provider.terminate(job.provider_instance_id)
            elif job.launch_attempted:
                for instance in await provider.list_instances({TAG_NODE: job.id}):
                    await provider.terminate(instance.instance_id)
        now = self.ctx.now()
        async with self.ctx.db.write() as s:
            final = (
                NodeState.LOST.value
                if job.state == NodeState.LOST.value
                else NodeState.TERMINATED.value
            )
            result = await s.execute(
                sa.update(NodeRow)
                .where(NodeRow.pk == job.pk, NodeRow.lock_token == job.token)
                .values(
                    state=final,
                    terminated_at=now,
                    modified_at=now,
                    lock_owner=None,
                    lock_token=None,
                    lock_expires_at=None,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return
            await provider_sync.end_replicas(s, job.pk, now, "its node was terminated")
            await record_node_usage(s, job.pk, now)
            events.record(
                s,
                owner_pk=job.owner_pk,
                kind=ObjectKind.NODE,
                object_id=job.path,
                reason="NODE_TERMINATED",
                message=f"node {job.id} terminated"
                + (f" ({job.provider_instance_id})" if job.provider_instance_id else ""),
                time=now,
            )

    # provider events and the orphan sweep (controllers.provider_sync) -----------------------

    async def handle_events(self) -> int:
        return await provider_sync.handle_events(self.ctx, self.providers)

    async def sweep_orphans(self) -> int:
        return await provider_sync.sweep_orphans(self.ctx, self.providers, self.installation)
