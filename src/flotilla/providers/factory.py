"""Building the providers a server is configured with (``FLOTILLA_PROVIDERS``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from flotilla.providers.registry import ProviderRegistry
from flotilla.services.context import Context

log = logging.getLogger("flotilla.providers")


@dataclass
class Providers:
    registry: ProviderRegistry
    rounds: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    """Work some providers need done each controller round (the sim cloud's agents)."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run when the server stops (local nodes stop with the server that started them)."""

    async def close(self) -> None:
        for close in self.closers:
            await close()


def build(ctx: Context) -> Providers:
    providers = Providers(ProviderRegistry())
    for name in ctx.settings.providers:
        if name == "local":
            from flotilla.providers.local import LocalProvider

            local = LocalProvider(ctx.settings.home, ctx.clock, ctx.catalog)
            providers.registry.add(local)
            providers.closers.append(local.close)
        elif name == "sim":
            from flotilla.providers.sim import SimAgents, SimCloud

            cloud = SimCloud(ctx.clock, ctx.catalog)
            providers.registry.add(cloud)
            providers.rounds.append(SimAgents(ctx, cloud).step)
        else:
            log.warning(
                "provider '%s' is not available in this version; its nodepools cannot grow", name
            )
    return providers
