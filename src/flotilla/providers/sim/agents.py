"""Simulated node agents: one per running sim instance, speaking the real agent service.

Each registers when its machine is up, heartbeats, starts the replicas the server wants (ready
after the model's load time) and stops the ones it drains once their in-flight requests are done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flotilla.domain.states import ReplicaState
from flotilla.providers.base import InstanceState
from flotilla.providers.sim.cloud import SimCloud
from flotilla.services import agents
from flotilla.services.context import Context


@dataclass
class SimReplica:
    deployment: str
    state: ReplicaState
    ready_at: datetime
    drain_started: datetime | None = None
    reported: ReplicaState | None = None


@dataclass
class SimAgent:
    node_id: str
    replicas: dict[str, SimReplica] = field(default_factory=dict)
    last_heartbeat: datetime | None = None


class SimAgents:
    def __init__(
        self,
        ctx: Context,
        cloud: SimCloud,
        *,
        load_seconds: Callable[[str], float] = lambda deployment_id: 10.0,
        in_flight: Callable[[str], int] = lambda replica_id: 0,
        heartbeat_seconds: float = 5.0,
        max_drain_seconds: float = 60.0,
    ) -> None:
        self.ctx = ctx
        self.cloud = cloud
        self.load_seconds = load_seconds
        self.in_flight = in_flight
        self.heartbeat_seconds = heartbeat_seconds
        self.max_drain_seconds = max_drain_seconds
        self.agents: dict[str, SimAgent] = {}
        self.lost: list[str] = []
        """Replicas whose machine vanished under them since the last ``take_lost``."""

    def routable(self) -> dict[str, set[str]]:
        """Deployment id → replicas that take new requests now (ready, not draining)."""
        found: dict[str, set[str]] = {}
        for agent in self.agents.values():
            for rid, r in agent.replicas.items():
                if r.state == ReplicaState.READY and r.drain_started is None:
                    found.setdefault(r.deployment, set()).add(rid)
        return found

    def take_lost(self) -> list[str]:
        lost, self.lost = self.lost, []
        return lost

    def _advance(self, agent: SimAgent, now: datetime) -> list[agents.ReplicaReport]:
        reports = []
        for rid, replica in list(agent.replicas.items()):
            if replica.state == ReplicaState.STARTING and replica.ready_at <= now:
                replica.state = ReplicaState.READY
            if replica.drain_started is not None:
                drained = self.in_flight(rid) == 0
                overdue = (now - replica.drain_started).total_seconds() >= self.max_drain_seconds
                if drained or overdue:
                    replica.state = ReplicaState.STOPPED
            if replica.state != replica.reported:
                reports.append(
                    agents.ReplicaReport(
                        rid, replica.state, endpoint=f"sim://{agent.node_id}/{rid}"
                    )
                )
                replica.reported = replica.state
            if replica.state == ReplicaState.STOPPED:
                del agent.replicas[rid]
        return reports

    def _sync(self, agent: SimAgent, desired: list[agents.DesiredReplica], now: datetime) -> None:
        for want in desired:
            replica = agent.replicas.get(want.replica_id)
            if replica is None and not want.drain:
                load = timedelta(seconds=self.load_seconds(want.deployment_id))
                agent.replicas[want.replica_id] = SimReplica(
                    want.deployment_id, ReplicaState.STARTING, now + load
                )
            elif replica is not None and want.drain and replica.drain_started is None:
                replica.drain_started = now
        wanted = {w.replica_id for w in desired}
        for rid, replica in agent.replicas.items():
            if rid not in wanted and replica.drain_started is None:
                replica.drain_started = now  # no longer wanted at all: stop it

    def _changes_due(self, agent: SimAgent, now: datetime) -> bool:
        for rid, r in agent.replicas.items():
            if r.state == ReplicaState.STARTING and r.ready_at <= now:
                return True
            if r.drain_started is not None and self.in_flight(rid) == 0:
                return True
        return False

    async def step(self) -> None:
        """Every agent whose heartbeat is due, or that has news, talks to the server once."""
        now = self.ctx.now()
        running = {
            i.spec.node_id: i for i in self.cloud.alive() if i.state == InstanceState.RUNNING
        }
        for node_id in list(self.agents):
            if node_id not in running:  # its machine is gone, and the agent with it
                self.lost.extend(self.agents.pop(node_id).replicas)

        due = []
        for node_id in running:
            agent = self.agents.setdefault(node_id, SimAgent(node_id))
            fresh = (
                agent.last_heartbeat is None
                or (now - agent.last_heartbeat).total_seconds() >= self.heartbeat_seconds
            )
            if fresh or self._changes_due(agent, now):
                due.append(agent)
        if not due:
            return
        async with self.ctx.db.write() as s:
            nodes = await agents.node_states(s, [a.node_id for a in due])
            beats = {}
            talked = {}
            for agent in due:
                if agent.node_id in nodes:
                    pk, state = nodes[agent.node_id]
                    beats[pk] = (state, self._advance(agent, now))
                    talked[pk] = agent
                    agent.last_heartbeat = now
            answers = await agents.heartbeat_many(s, beats, now)
            for pk, agent in talked.items():
                self._sync(agent, answers.get(pk, []), now)
