"""Spot or on-demand: which capacity type to ask for, and what shortages teach.

A nodepool lists capacity types in order of preference (``[spot, on_demand]``: spot first).
When a provider answers "no capacity", that (instance type, region, capacity type) is remembered
as short for a while and skipped; the launch falls back to the next type in the same pass. When
the memory expires, spot is preferred again and on-demand nodes are replaced by spot ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flotilla.domain.states import CapacityType

ShortageKey = tuple[str, str, str, CapacityType]
"""(provider, region, instance type, capacity type)."""


@dataclass(frozen=True)
class Shortages:
    """Until when each (provider, region, type, capacity type) is believed short."""

    until: Mapping[ShortageKey, float]

    def is_short(self, key: ShortageKey, now: float) -> bool:
        return self.until.get(key, float("-inf")) > now


def capacity_order(
    preference: Sequence[CapacityType],
    allowed: Sequence[CapacityType],
    short: Shortages,
    provider: str,
    region: str,
    instance_type: str,
    now: float,
) -> tuple[CapacityType, ...]:
    """Capacity types to try for one launch, best first; empty when all are short."""
    return tuple(
        c
        for c in preference
        if c in allowed and not short.is_short((provider, region, instance_type, c), now)
    )


def remember_shortage(
    until: dict[ShortageKey, float], key: ShortageKey, now: float, seconds: float
) -> None:
    until[key] = max(until.get(key, float("-inf")), now + seconds)


@dataclass(frozen=True, slots=True)
class RunningNode:
    key: int
    pool: int
    instance_type: str
    capacity_type: CapacityType
    ready: bool
    cordoned: bool


def spot_return(
    preference: Sequence[CapacityType],
    nodes: Sequence[RunningNode],
    spot_allowed: Mapping[str, bool],
    short: Shortages,
    provider: str,
    region: str,
    now: float,
    replacing: bool,
) -> RunningNode | None:
    """The on-demand node to replace by a spot one now, if spot is preferred and available
    again. One replacement per nodepool at a time (``replacing``: one is under way)."""
    if replacing or not preference or preference[0] != CapacityType.SPOT:
        return None
    for node in sorted(nodes, key=lambda n: n.key):
        if node.capacity_type != CapacityType.ON_DEMAND or not node.ready or node.cordoned:
            continue
        key = (provider, region, node.instance_type, CapacityType.SPOT)
        if spot_allowed.get(node.instance_type) and not short.is_short(key, now):
            return node
    return None
