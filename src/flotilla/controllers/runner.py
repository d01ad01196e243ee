"""The controllers' loops inside a server process: reconcile, actuate, sweep.

Each loop waits for a hint (an API write, a held request) or its interval, runs one round, and
backs off after errors. ``stop`` ends them after the round in progress; a round interrupted by a
crash leaves only leases that lapse by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from flotilla.controllers.actuator import Actuator
from flotilla.controllers.reconciler import Reconciler
from flotilla.providers.registry import ProviderRegistry
from flotilla.services import history, traffic
from flotilla.services.context import Context

log = logging.getLogger("flotilla.controllers")

TOPICS = ("clusters", "nodepools", "deployments", "traffic")
MAX_BACKOFF = 30.0
MIN_GAP = 0.25
"""Shortest time between two rounds of a loop."""


def owner_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class ControllerRunner:
    def __init__(
        self,
        ctx: Context,
        providers: ProviderRegistry,
        installation: str,
        *,
        extra_rounds: list[Callable[[], Awaitable[object]]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.owner = owner_name()
        self.reconciler = Reconciler(ctx, self.owner, providers.names())
        self.actuator = Actuator(ctx, providers, self.owner, installation=installation)
        self.extra_rounds = extra_rounds or []
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        interval = self.ctx.settings.reconcile_interval_seconds
        self._tasks = [
            asyncio.create_task(
                self._loop("reconcile", self._reconcile, interval), name="reconcile"
            ),
            asyncio.create_task(
                self._loop("sweep", self._sweep, self.ctx.settings.orphan_sweep_seconds),
                name="sweep",
            ),
        ]

    async def close(self, grace_seconds: float = 10.0) -> None:
        self.stop.set()
        for topic in TOPICS:
            self.ctx.hints.notify(topic)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _reconcile(self) -> None:
        for extra in self.extra_rounds:
            await extra()
        await self.actuator.handle_events()
        result = await self.reconciler.run_once()
        if result.plan is not None and not result.plan.empty:
            self.ctx.hints.notify("nodes")  # agents long-polling for their desired replicas
        await self.actuator.run_once()

    async def _sweep(self) -> None:
        await self.actuator.sweep_orphans()
        async with self.ctx.db.write() as s:
            await traffic.prune(s, self.ctx.now())
            pruned = await history.prune(s, self.ctx.settings, self.ctx.now())
        history.forget_logs(self.ctx.settings, pruned.replicas)

    async def _loop(
        self, name: str, round_: Callable[[], Awaitable[None]], interval: float
    ) -> None:
        subscriptions = [(topic, self.ctx.hints.subscribe(topic)) for topic in TOPICS]
        backoff = 0.0
        try:
            while not self.stop.is_set():
                try:
                    await round_()
                    backoff = 0.0
                except Exception:
                    backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                    log.exception("%s round failed; retrying in %.0fs", name, backoff)
                # A burst of API writes wakes one round, not one per write.
                await asyncio.sleep(MIN_GAP)
                await self._wait(subscriptions, max((backoff or interval) - MIN_GAP, 0.0))
        finally:
            for topic, event in subscriptions:
                self.ctx.hints.unsubscribe(topic, event)

    async def _wait(self, subscriptions: list[tuple[str, asyncio.Event]], seconds: float) -> None:
        waiters = [asyncio.create_task(event.wait()) for _, event in subscriptions]
        waiters.append(asyncio.create_task(self.stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
            for _, event in subscriptions:
                event.clear()
