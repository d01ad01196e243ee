"""The reconcile pass: read a snapshot, decide a plan (pure), write it — as the leader.

One server replica leads at a time (a named lease, renewed every pass and checked again inside
the write transaction); the others serve the API and act on leased node work. A pass is
level-triggered: running it twice does no harm, and it never depends on having seen an event.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flotilla.controllers import snapshot as snapshots
from flotilla.controllers.decide import DecideConfig, decide
from flotilla.controllers.plan import Plan
from flotilla.controllers.write import write_plan
from flotilla.domain.states import NodeState
from flotilla.services.context import Context
from flotilla.store.leases import claim_named, holds_named

log = logging.getLogger("flotilla.reconciler")

LEADER = "reconciler"


class LostLeadership(Exception):
    pass


@dataclass(frozen=True)
class PassResult:
    led: bool
    plan: Plan | None = None
    read_seconds: float = 0.0
    decide_seconds: float = 0.0
    write_seconds: float = 0.0
    actuation: bool = True
    """Whether any node waits for a provider call (launch, terminate); False lets the actuator
    skip its round."""


def decide_config(ctx: Context, providers: frozenset[str], **overrides: Any) -> DecideConfig:
    s = ctx.settings
    config = DecideConfig(
        burst_seconds=s.burst_window_seconds,
        node_empty_seconds=s.node_empty_seconds,
        node_lost_seconds=s.node_lost_seconds,
        register_timeout_seconds=s.node_register_timeout_seconds,
        shortage_seconds=s.shortage_seconds,
        providers=providers,
    )
    return replace(config, **overrides) if overrides else config


class Reconciler:
    def __init__(
        self,
        ctx: Context,
        owner: str,
        providers: frozenset[str],
        config: DecideConfig | None = None,
    ) -> None:
        self.ctx = ctx
        self.owner = owner
        self.config = config or decide_config(ctx, providers)
        self._token: str | None = None
        self._renewed_at: datetime | None = None

    async def lead(self) -> bool:
        """Take or keep the leader lease. A held lease is renewed once a third of it has passed
        (every write of a pass checks it again, so a lapsed lease never writes)."""
        now = self.ctx.now()
        ttl = self.ctx.settings.lease_seconds
        if self._token and self._renewed_at and (now - self._renewed_at).total_seconds() < ttl / 3:
            return True
        async with self.ctx.db.write() as s:
            self._token = await claim_named(s, LEADER, self.owner, ttl, now)
        self._renewed_at = now if self._token else None
        return self._token is not None

    async def run_once(self) -> PassResult:
        if not await self.lead():
            return PassResult(led=False)
        assert self._token is not None
        now = self.ctx.now()
        started = time.perf_counter()
        burst = self.config.burst_seconds
        snap = await self.ctx.db.read_in_thread(lambda s: snapshots.load(s, now, burst))
        read = time.perf_counter()
        plan = decide(snap, self.ctx.catalog, self.config)
        decided = time.perf_counter()
        if not plan.empty:
            token, ttl = self._token, self.ctx.settings.lease_seconds

            def write(s: Session) -> None:
                if not holds_named(s, LEADER, token, now, ttl):
                    raise LostLeadership
                write_plan(s, plan, snap, now)

            try:
                await self.ctx.db.write_in_thread(write)
            except LostLeadership:
                self._token = None

                log.warning("lost the reconcile lease mid-pass; another server leads now")
                return PassResult(led=False)
            except IntegrityError as error:  # an API write raced this pass; the next one adapts
                log.info("reconcile pass discarded after a concurrent change: %s", error.orig)
                return PassResult(led=True)
        done = time.perf_counter()
        return PassResult(
            True,
            plan,
            read - started,
            decided - read,
            done - decided,
            actuation=_needs_actuation(snap, plan),
        )


_ACT_ON = {NodeState.LAUNCHING.value, NodeState.TERMINATING.value, NodeState.LOST.value}


def _needs_actuation(snap: snapshots.Snapshot, plan: Plan) -> bool:
    if plan.new_nodes:
        return True
    if any(values.get("state") in _ACT_ON for values in plan.node_updates.values()):
        return True
    return any(
        node.state in _ACT_ON or node.provider_instance_id is None for node in snap.nodes.values()
    )
