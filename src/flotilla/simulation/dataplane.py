"""The gateway's queueing, simulated request by request in virtual time.

Each ready replica serves up to ``slots`` requests at once, each taking the model's service
time; a request goes to the replica slot that frees first (least outstanding requests). With no
replica to route to, requests are held (a cold start) until one is ready, or dropped after
``hold_timeout`` (the gateway's 503). Replicas that drain take no new requests and finish what
they have; a replica whose node vanishes fails what it had in flight. The data plane reports what
a real gateway reports: in-flight requests over an interval, arrivals, held requests, the last
arrival.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelProfile:
    service_seconds: float = 0.2
    """Mean time one request takes on a replica."""
    slots: int = 4
    """Requests a replica serves at once."""
    jitter: float = 0.25
    """Service time varies uniformly by ± this fraction."""


@dataclass
class Outcomes:
    total: int = 0
    within_slo: int = 0
    dropped: int = 0
    failed: int = 0
    cold: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def slo_attainment(self) -> float:
        return self.within_slo / self.total if self.total else 1.0


@dataclass
class _Deployment:
    profile: ModelProfile
    slots: list[tuple[float, str, int]] = field(default_factory=list)
    """Heap of (free at, replica id, slot) over routable replicas."""
    routable: set[str] = field(default_factory=set)
    held: deque[float] = field(default_factory=deque)
    active: list[tuple[float, float, str]] = field(default_factory=list)
    """(arrival, finish, replica) of requests that were in flight during the current interval."""
    arrivals: int = 0
    last_arrival: float | None = None
    outcomes: Outcomes = field(default_factory=Outcomes)


class DataPlane:
    def __init__(
        self,
        profiles: dict[str, ModelProfile],
        *,
        slo_seconds: float = 1.0,
        hold_timeout: float = 60.0,
        seed: int = 0,
        keep_latencies: bool = False,
    ) -> None:
        self.deployments = {name: _Deployment(profile) for name, profile in profiles.items()}
        self.slo_seconds = slo_seconds
        self.hold_timeout = hold_timeout
        self.random = random.Random(seed)
        self.keep_latencies = keep_latencies
        self._replica_of: dict[str, str] = {}

    def set_routable(self, deployment: str, replicas: set[str], now: float) -> None:
        """The replicas the gateway may send new requests to, as of ``now``."""
        d = self.deployments[deployment]
        if replicas == d.routable:
            return
        kept = [entry for entry in d.slots if entry[1] in replicas]
        for replica in replicas - d.routable:
            self._replica_of[replica] = deployment
            kept.extend((now, replica, slot) for slot in range(d.profile.slots))
        heapq.heapify(kept)
        d.slots = kept
        d.routable = set(replicas)
        self._serve_held(d, now)

    def kill(self, replica: str, at: float) -> int:
        """A replica vanished with its node: requests it had in flight fail."""
        deployment = self._replica_of.get(replica)
        if deployment is None:
            return 0
        d = self.deployments[deployment]
        failed = [r for r in d.active if r[2] == replica and r[1] > at]
        for request in failed:
            d.active.remove(request)
            d.outcomes.failed += 1
            d.outcomes.within_slo -= 1 if request[1] - request[0] <= self.slo_seconds else 0
        if replica in d.routable:
            self.set_routable(deployment, d.routable - {replica}, at)
        return len(failed)

    def in_flight(self, replica: str, now: float) -> int:
        deployment = self._replica_of.get(replica)
        if deployment is None:
            return 0
        return sum(1 for r in self.deployments[deployment].active if r[2] == replica and r[1] > now)

    def offer(self, deployment: str, arrivals: list[float]) -> None:
        """Route requests arriving at these (sorted) times."""
        d = self.deployments[deployment]
        for at in arrivals:
            d.arrivals += 1
            d.last_arrival = at
            d.outcomes.total += 1
            self._drop_expired(d, at)
            if not d.slots:
                d.held.append(at)
                d.outcomes.cold += 1
                continue
            self._route(d, at, at)

    def _service(self, profile: ModelProfile) -> float:
        return profile.service_seconds * (1 + self.random.uniform(-profile.jitter, profile.jitter))

    def _route(self, d: _Deployment, arrival: float, now: float) -> None:
        free_at, replica, slot = heapq.heappop(d.slots)
        start = max(free_at, now)
        finish = start + self._service(d.profile)
        heapq.heappush(d.slots, (finish, replica, slot))
        d.active.append((arrival, finish, replica))
        latency = finish - arrival
        if latency <= self.slo_seconds:
            d.outcomes.within_slo += 1
        if self.keep_latencies:
            d.outcomes.latencies.append(latency)

    def _drop_expired(self, d: _Deployment, now: float) -> None:
        while d.held and now - d.held[0] > self.hold_timeout:
            d.held.popleft()
            d.outcomes.dropped += 1

    def _serve_held(self, d: _Deployment, now: float) -> None:
        self._drop_expired(d, now)
        while d.held and d.slots:
            self._route(d, d.held.popleft(), now)

    def sample(
        self, deployment: str, start: float, end: float
    ) -> tuple[float, int, int, float | None]:
        """What the gateway reports for [start, end): average in flight (held included),
        arrivals, requests held at ``end``, the last arrival."""
        d = self.deployments[deployment]
        self._drop_expired(d, end)
        span = end - start
        busy = sum(min(f, end) - max(a, start) for a, f, _ in d.active if f > start and a < end)
        busy += sum(end - max(a, start) for a in d.held)
        d.active = [r for r in d.active if r[1] > end]
        arrivals, d.arrivals = d.arrivals, 0
        return busy / span if span > 0 else 0.0, arrivals, len(d.held), d.last_arrival

    def outcomes(self, deployment: str) -> Outcomes:
        return self.deployments[deployment].outcomes

    def finish(self, now: float) -> None:
        """At the end of a run, requests still held count as dropped."""
        for d in self.deployments.values():
            self._drop_expired(d, now)
            d.outcomes.dropped += len(d.held)
            d.held.clear()
