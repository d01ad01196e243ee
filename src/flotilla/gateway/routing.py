"""The routes a gateway knows: deployments by owner and id, their ready replicas, and the pick.

Routes come from the server's long-poll (``GET /v1/gateway/routes``) and are applied in place:
a deployment keeps its object (its traffic counters, its held requests) and a replica keeps its
connection pool across updates. A replica absent from new routes (draining, stopped) is retired:
its requests in flight finish, it gets no new ones.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flotilla.gateway.signals import Traffic, TrafficReporter
from flotilla.gateway.upstream import Replica

log = logging.getLogger("flotilla.gateway")


class Deployment:
    """What the gateway knows of one deployment."""

    __slots__ = (
        "_next",
        "changed",
        "compute_stopped",
        "id",
        "label",
        "owner",
        "pk",
        "replicas",
        "status",
        "status_reason",
        "traffic",
    )

    def __init__(self, pk: int, traffic: Traffic) -> None:
        self.pk = pk
        self.id = ""
        self.owner = ""
        self.label = ""
        self.status = "enabled"
        self.status_reason: str | None = None
        self.compute_stopped = False
        self.replicas: list[Replica] = []
        self.traffic = traffic
        self.changed = asyncio.Event()
        """Set (and replaced) whenever the routes of this deployment change."""
        self._next = 0

    def pick(self) -> Replica | None:
        """The ready replica with the fewest requests in flight; ties go round-robin. Replicas
        that refused a connection a moment ago are passed over; None when there is no other."""
        replicas = self.replicas
        n = len(replicas)
        if n == 1:
            replica = replicas[0]
            return replica if not replica.down_until or replica.up_again() else None
        best: Replica | None = None
        start = self._next = (self._next + 1) % n if n else 0
        for i in range(n):
            replica = replicas[(start + i) % n]
            if replica.down_until and not replica.up_again():
                continue
            if best is None or replica.in_flight < best.in_flight:
                best = replica
        return best

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class RouteTable:
    """Deployments by (owner, id), updated from the server's routes."""

    def __init__(
        self, reporter: TrafficReporter, *, replica_timeout: float, connect_timeout: float
    ) -> None:
        self.reporter = reporter
        self.replica_timeout = replica_timeout
        self.connect_timeout = connect_timeout
        self.by_name: dict[tuple[str, str], Deployment] = {}
        self.by_pk: dict[int, Deployment] = {}
        self.replicas: dict[str, Replica] = {}
        self.etag: str | None = None
        self.loaded = asyncio.Event()

    def get(self, owner: str, deployment_id: str) -> Deployment | None:
        return self.by_name.get((owner, deployment_id))

    def apply(self, routes: dict[str, Any]) -> None:
        """Take the server's routes: ``{"deployments": [...], "etag": ...}``."""
        by_name: dict[tuple[str, str], Deployment] = {}
        by_pk: dict[int, Deployment] = {}
        replicas: dict[str, Replica] = {}
        for item in routes["deployments"]:
            pk = int(item["pk"])
            deployment = self.by_pk.get(pk) or Deployment(pk, self.reporter.traffic(pk))
            deployment.traffic.retired = False
            wanted = []
            for r in item["replicas"]:
                replica = self._replica(r["id"], r["endpoint"])
                if replica is not None:
                    wanted.append(replica)
                    replicas[replica.id] = replica
            changed = (
                [r.id for r in wanted] != [r.id for r in deployment.replicas]
                or deployment.status != item["status"]
                or deployment.status_reason != item.get("status_reason")
                or deployment.compute_stopped != bool(item.get("compute_stopped"))
            )
            deployment.id, deployment.owner = item["id"], item["owner"]
            deployment.label = f"{deployment.owner}/{deployment.id}"
            deployment.status = item["status"]
            deployment.status_reason = item.get("status_reason")
            deployment.compute_stopped = bool(item.get("compute_stopped"))
            deployment.replicas = wanted
            by_name[(deployment.owner, deployment.id)] = deployment
            by_pk[pk] = deployment
            if changed:
                deployment.wake()
        for replica_id, replica in self.replicas.items():
            if replicas.get(replica_id) is not replica:
                replica.retire()
        gone = [d for pk, d in self.by_pk.items() if pk not in by_pk]
        self.by_name, self.by_pk, self.replicas = by_name, by_pk, replicas
        self.etag = routes["etag"]
        for deployment in gone:  # its held requests find it gone
            deployment.replicas = []
            deployment.traffic.retired = True
            deployment.wake()
        self.loaded.set()

    def _replica(self, replica_id: str, endpoint: str) -> Replica | None:
        found = self.replicas.get(replica_id)
        if found is not None and found.endpoint == endpoint:
            return found
        try:
            return Replica(
                replica_id,
                endpoint,
                timeout=self.replica_timeout,
                connect_timeout=self.connect_timeout,
            )
        except ValueError as error:
            log.warning("replica %s skipped: %s", replica_id, error)
            return None
