"""The server-side stack on a simulated cloud, advanced step by step in virtual time.

One ``step`` is what a second (or ``dt``) of a real server does: the cloud moves on, agents
heartbeat, the reconciler makes a pass, the actuator launches and terminates. Tests and the
benchmark drive it; nothing here stands in for Flotilla's own code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flotilla.controllers.actuator import Actuator
from flotilla.controllers.reconciler import Reconciler
from flotilla.domain.time import ManualClock
from flotilla.providers.registry import ProviderRegistry
from flotilla.providers.sim import SimAgents, SimCloud
from flotilla.services.context import Context


@dataclass
class Stack:
    ctx: Context
    clock: ManualClock
    cloud: SimCloud
    agents: SimAgents
    reconciler: Reconciler
    actuator: Actuator
    passes: int = 0
    """Reconcile passes run (only counts and times are kept: a day holds 17,280 plans)."""
    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("read", "decide", "write"), 0.0)
    )
    """Time the passes spent reading, deciding and writing."""

    @classmethod
    def build(
        cls,
        ctx: Context,
        clock: ManualClock,
        cloud: SimCloud,
        agents: SimAgents,
        owner: str = "sim-server",
    ) -> Stack:
        registry = ProviderRegistry({cloud.name: cloud})
        return cls(
            ctx=ctx,
            clock=clock,
            cloud=cloud,
            agents=agents,
            reconciler=Reconciler(ctx, owner, registry.names()),
            actuator=Actuator(ctx, registry, owner, installation="sim-installation"),
        )

    async def step(self, dt: float = 1.0) -> None:
        """Advance the clock by ``dt`` seconds and run one round of every part."""
        self.clock.advance(dt)
        await self.pass_once()

    async def pass_once(self) -> None:
        await self.actuator.handle_events()
        await self.agents.step()
        result = await self.reconciler.run_once()
        self.passes += 1
        self.seconds["read"] += result.read_seconds
        self.seconds["decide"] += result.decide_seconds
        self.seconds["write"] += result.write_seconds
        if result.actuation or not result.led:
            await self.actuator.run_once()

    async def run(self, seconds: float, dt: float = 1.0) -> None:
        steps = round(seconds / dt)
        for _ in range(steps):
            await self.step(dt)
