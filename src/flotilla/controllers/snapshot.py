"""One consistent read of everything a reconcile pass decides on, in a few bulk queries.

Rows are loaded with Core selects into slotted dataclasses (no ORM objects): a pass over
10,000 nodes and 50,000 replicas must read them in well under a second. The selects are prepared
(``store.prepared``): compiled once and run on the session's driver connection, since a pass
runs every few seconds and a simulated day runs 17,280 of them.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from flotilla.domain.specs import AutoscaleConfig
from flotilla.domain.states import NODE_GONE_STATES, REPLICA_ENDED_STATES, CapacityType, ClusterType
from flotilla.domain.status import TokenFacts, cluster_token_problem
from flotilla.policies.autoscale import ScalerState
from flotilla.services import traffic
from flotilla.store.prepared import Prepared, fetch
from flotilla.store.tables import (
    CapacityShortageRow,
    ClusterRow,
    DeploymentNodepoolRow,
    DeploymentRow,
    ModelVersionRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
    TokenRow,
)

_GONE = [s.value for s in NODE_GONE_STATES]
_ENDED = [s.value for s in REPLICA_ENDED_STATES]


class _Times:
    """Stored timestamps to aware UTC datetimes, each distinct value parsed once: the tens of
    thousands of rows a pass reads share few distinct times (a pass stamps all it creates with
    one ``now``). Columns are read as stored (``_raw``): text on SQLite, datetimes elsewhere."""

    def __init__(self) -> None:
        self.seen: dict[Any, datetime | None] = {None: None}

    def __call__(self, raw: Any) -> datetime | None:
        try:
            return self.seen[raw]
        except KeyError:
            value = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            self.seen[raw] = value
            return value


def _raw(column: Any) -> Any:
    """A timestamp column without its per-row type conversion (``_Times`` converts)."""
    return sa.type_coerce(column, sa.String()).label(column.name)


@dataclass(slots=True)
class PoolRow:
    pk: int
    id: str
    owner_pk: int
    cluster_pk: int
    cluster_id: str
    provider: str
    region: str
    instance_types: list[str]
    min_instances: int
    max_instances: int
    capacity_types: list[CapacityType]
    error_reason: str | None
    deleting: bool
    token_problem: str | None

    @property
    def path(self) -> str:
        return f"{self.cluster_id}/{self.id}"


@dataclass(slots=True)
class NodeFacts:
    pk: int
    id: str
    pool_pk: int
    instance_type: str
    capacity_type: CapacityType
    state: str
    provider_instance_id: str | None
    price: float
    cordoned: bool
    created_at: datetime
    launched_at: datetime | None
    ready_at: datetime | None
    last_heartbeat_at: datetime | None
    interruption_deadline_at: datetime | None
    empty_since: datetime | None
    replaces_pk: int | None
    capacity: dict[str, Any] | None


@dataclass(slots=True)
class ReplicaFacts:
    pk: int
    id: str
    deployment_pk: int
    version_pk: int
    pool_pk: int | None
    node_pk: int | None
    state: str
    replaces_pk: int | None
    created_at: datetime


@dataclass(slots=True)
class VersionFacts:
    pk: int
    id: str
    resources: dict[str, Any]


@dataclass(slots=True)
class DeploymentFacts:
    pk: int
    id: str
    owner_pk: int
    enabled: bool
    deleting: bool
    model_pk: int
    model_version: str
    scheduling_choice: str
    autoscale_config: dict[str, Any]
    """As stored: the fields the user set."""
    autoscale: AutoscaleConfig
    desired_replicas: int
    scaler: ScalerState
    status_reason: str | None
    last_request_at: datetime | None = None
    version: VersionFacts | None = None
    pools: list[tuple[int, int, int]] = field(default_factory=list)
    """(nodepool pk, priority, position)."""


@dataclass(slots=True)
class TrafficFacts:
    stable_in_flight: float = 0.0
    burst_in_flight: float = 0.0
    stable_arrival_rate: float = 0.0
    burst_arrival_rate: float = 0.0
    held: int = 0


@dataclass
class Snapshot:
    now: datetime
    deployments: dict[int, DeploymentFacts]
    pools: dict[int, PoolRow]
    nodes: dict[int, NodeFacts]
    replicas: dict[int, ReplicaFacts]
    shortages: dict[tuple[str, str, str, CapacityType], datetime]
    traffic: dict[int, TrafficFacts]
    clusters_deleting: dict[int, tuple[str, int]]
    """Clusters marked deleting: pk → (id, owner pk)."""
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Resources of every model version of the deployed models, by version pk."""


_NP, _CL, _TK = NodepoolRow.__table__.c, ClusterRow.__table__.c, TokenRow.__table__.c
_POOLS = Prepared(
    sa.select(
        _NP.pk,
        _NP.id,
        _NP.instance_types,
        _NP.min_instances,
        _NP.max_instances,
        _NP.capacity_types,
        _NP.error_reason,
        _NP.deleting_at,
        _CL.pk,
        _CL.id,
        _CL.owner_pk,
        _CL.cloud_provider,
        _CL.region,
        _CL.cluster_type,
        _CL.deleting_at,
        _TK.pk,
        _TK.revoked_at,
        _TK.expires_at,
    )
    .join_from(NodepoolRow.__table__, ClusterRow.__table__, _CL.pk == _NP.cluster_pk)
    .outerjoin(TokenRow.__table__, _TK.pk == _CL.token_pk)
)
_CLUSTERS_DELETING = Prepared(
    sa.select(_CL.pk, _CL.id, _CL.owner_pk).where(_CL.deleting_at.is_not(None))
)


def _pools(
    session: Session, now: datetime
) -> tuple[dict[int, PoolRow], dict[int, tuple[str, int]]]:
    pools = {}
    for row in fetch(session, _POOLS):
        (
            pk,
            pid,
            types,
            lo,
            hi,
            caps,
            err,
            np_del,
            c_pk,
            c_id,
            owner,
            prov,
            region,
            ctype,
            c_del,
            t_pk,
            revoked,
            expires,
        ) = row
        token = None if t_pk is None else TokenFacts(revoked_at=revoked, expires_at=expires)
        pools[pk] = PoolRow(
            pk=pk,
            id=pid,
            owner_pk=owner,
            cluster_pk=c_pk,
            cluster_id=c_id,
            provider=prov,
            region=region,
            instance_types=list(types),
            min_instances=lo,
            max_instances=hi,
            capacity_types=[CapacityType(c) for c in caps],
            error_reason=err,
            deleting=np_del is not None or c_del is not None,
            token_problem=cluster_token_problem(ClusterType(ctype), token, now),
        )
    deleting = fetch(session, _CLUSTERS_DELETING)
    return pools, {pk: (cid, owner) for pk, cid, owner in deleting}


_N = NodeRow.__table__.c
_NODES = Prepared(
    sa.select(
        _N.pk,
        _N.id,
        _N.nodepool_pk,
        _N.instance_type,
        _N.capacity_type,
        _N.state,
        _N.provider_instance_id,
        _N.price_per_hour,
        _N.cordoned,
        _raw(_N.created_at),
        _raw(_N.launched_at),
        _raw(_N.ready_at),
        _raw(_N.last_heartbeat_at),
        _raw(_N.interruption_deadline_at),
        _raw(_N.empty_since),
        _N.replaces_pk,
        _N.capacity,
    ).where(_N.state.not_in(_GONE))
)


def _nodes(session: Session, times: _Times) -> dict[int, NodeFacts]:
    capacity_type = {c.value: c for c in CapacityType}
    nodes = {}
    for (
        pk,
        nid,
        pool,
        itype,
        ctype,
        state,
        iid,
        price,
        cordoned,
        created,
        launched,
        ready,
        heartbeat,
        deadline,
        empty,
        replaces,
        cap,
    ) in fetch(session, _NODES):
        nodes[pk] = NodeFacts(
            pk,
            nid,
            pool,
            itype,
            capacity_type[ctype],
            state,
            iid,
            price,
            cordoned,
            times(created),  # type: ignore[arg-type]
            times(launched),
            times(ready),
            times(heartbeat),
            times(deadline),
            times(empty),
            replaces,
            cap,
        )
    return nodes


_R = ReplicaRow.__table__.c
_REPLICAS = Prepared(
    sa.select(
        _R.pk,
        _R.id,
        _R.deployment_pk,
        _R.model_version_pk,
        _R.nodepool_pk,
        _R.node_pk,
        _R.state,
        _R.replaces_pk,
        _raw(_R.created_at),
    ).where(_R.state.not_in(_ENDED))
)


def _replicas(session: Session, times: _Times) -> dict[int, ReplicaFacts]:
    return {
        pk: ReplicaFacts(pk, rid, dep, version, pool, node, state, replaces, times(created))  # type: ignore[arg-type]
        for pk, rid, dep, version, pool, node, state, replaces, created in fetch(session, _REPLICAS)
    }


_D = DeploymentRow.__table__.c
_DEPLOYMENTS = Prepared(
    sa.select(
        _D.pk,
        _D.id,
        _D.owner_pk,
        _D.enabled,
        _D.deleting_at,
        _D.model_pk,
        _D.model_version,
        _D.scheduling_choice,
        sa.cast(_D.autoscale_config, sa.Text()),
        _D.desired_replicas,
        sa.cast(_D.scaler_state, sa.Text()),
        _D.status_reason,
        _D.last_request_at,
    )
)
_DN = DeploymentNodepoolRow.__table__.c
_LINKS = Prepared(sa.select(_DN.deployment_pk, _DN.nodepool_pk, _DN.priority, _DN.position))
_MV = ModelVersionRow.__table__.c
_VERSIONS = Prepared(
    sa.select(_MV.pk, _MV.id, _MV.model_pk, _MV.resources)
    .where(_MV.model_pk.in_(sa.select(_D.model_pk)))
    .order_by(_MV.pk)
)
_CS = CapacityShortageRow.__table__.c
_SHORTAGES = Prepared(
    sa.select(_CS.provider, _CS.region, _CS.instance_type, _CS.capacity_type, _CS.until).where(
        _CS.until > sa.bindparam("now", type_=_CS.until.type)
    )
)


# Deployments' JSON columns, read as text and decoded once per distinct value: the autoscale
# configuration rarely changes, and a scaler state often stays the same from one pass to the next.
# The decoded values are shared between passes and never modified.


@functools.lru_cache(maxsize=1024)
def _autoscale(text: str) -> tuple[dict[str, Any], AutoscaleConfig]:
    config = json.loads(text)
    return config, AutoscaleConfig.model_construct(**config)


@functools.lru_cache(maxsize=1024)
def _scaler_state(text: str | None) -> ScalerState:
    return ScalerState.from_json(None if text is None else json.loads(text))


def _deployments(
    session: Session,
) -> tuple[dict[int, DeploymentFacts], dict[int, dict[str, Any]]]:
    deployments = {}
    for row in fetch(session, _DEPLOYMENTS):
        config, autoscale = _autoscale(row[8])
        deployments[row[0]] = DeploymentFacts(
            pk=row[0],
            id=row[1],
            owner_pk=row[2],
            enabled=row[3],
            deleting=row[4] is not None,
            model_pk=row[5],
            model_version=row[6],
            scheduling_choice=row[7],
            autoscale_config=config,
            autoscale=autoscale,
            desired_replicas=row[9],
            scaler=_scaler_state(row[10]),
            status_reason=row[11],
            last_request_at=row[12],
        )
    for deployment_pk, pool_pk, priority, position in fetch(session, _LINKS):
        if deployment_pk in deployments:
            deployments[deployment_pk].pools.append((pool_pk, priority, position))
    resources: dict[int, dict[str, Any]] = {}
    if deployments:
        by_model: dict[int, dict[str, VersionFacts]] = {}
        for pk, vid, model_pk, needs in fetch(session, _VERSIONS):
            facts = VersionFacts(pk, vid, needs)
            resources[pk] = needs
            by_model.setdefault(model_pk, {})[vid] = facts
            by_model[model_pk]["latest"] = facts  # ordered by pk: the newest wins
        for dep in deployments.values():
            dep.version = by_model.get(dep.model_pk, {}).get(dep.model_version)
    return deployments, resources


def _traffic(
    session: Session,
    now: datetime,
    deployments: dict[int, DeploymentFacts],
    burst_seconds: float,
) -> dict[int, TrafficFacts]:
    """Per deployment: average in-flight and arrival rate over its history window and the burst
    window (summed in SQL, over the covered part of each window) and the requests held now."""
    end = traffic.window_end(session, now, max_lag=burst_seconds)

    if end is None or not deployments:
        return {}
    by_history: dict[float, list[int]] = defaultdict(list)
    for pk, dep in deployments.items():
        by_history[float(dep.autoscale_config.get("traffic_history_seconds", 300))].append(pk)
    facts: dict[int, TrafficFacts] = {}
    for seconds, pks in by_history.items():
        stable = traffic.windows(session, end, seconds)
        for pk in pks:
            if (window := stable.get(pk)) is not None:
                found = facts.setdefault(pk, TrafficFacts())
                found.stable_in_flight = window.average
                found.stable_arrival_rate = window.arrival_rate
    for pk, window in traffic.windows(session, end, burst_seconds).items():
        if pk in deployments:
            found = facts.setdefault(pk, TrafficFacts())
            found.burst_in_flight = window.average
            found.burst_arrival_rate = window.arrival_rate
    for pk, held in traffic.held_now(session, end, max(burst_seconds, 5.0)).items():
        if pk in deployments:
            facts.setdefault(pk, TrafficFacts()).held = held
    return facts


def load(session: Session, now: datetime, burst_seconds: float) -> Snapshot:
    times = _Times()
    pools, clusters_deleting = _pools(session, now)
    deployments, versions = _deployments(session)
    shortages_rows = fetch(session, _SHORTAGES, {"now": now})
    return Snapshot(
        now=now,
        deployments=deployments,
        pools=pools,
        nodes=_nodes(session, times),
        replicas=_replicas(session, times),
        shortages={(p, r, t, CapacityType(c)): until for p, r, t, c, until in shortages_rows},
        traffic=_traffic(session, now, deployments, burst_seconds),
        clusters_deleting=clusters_deleting,
        versions=versions,
    )
