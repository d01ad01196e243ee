"""Burst headroom: replicas kept ready for the bursts a deployment has shown.

Reacting is not enough when load can rise faster than a replica can start (a new node plus the
model load: ``warmup_seconds``). So the autoscaler remembers, over ``burst_memory_seconds``, the
largest rise in load that happened within one warm-up, and keeps enough replicas for the lowest
load of the last warm-up plus that rise. Recurring bursts then find capacity waiting, while a
slow rise (a day's curve) adds nothing. A rise counts when it lasts a sixth of the warm-up and is
worth at least one replica.

Before the autoscaler can take a queue out of its load (see
:func:`flotilla.policies.autoscale.load_of`), a queue and a burst look the same: in-flight
requests pile up without bound. So a rise that outgrew the replicas before it is remembered at
most at ``HEADROOM_GROWTH`` × what they were sized for, and only for ``QUEUED_MEMORY_SHARE`` of
the memory; a burst met without a queue measures its true size and corrects larger sizes
measured in a queue before it. Headroom never asks for more than the highest load the
remembered rises reached: in a burst, the floor is the burst itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flotilla.domain.specs import AutoscaleConfig

TOLERANCE = 0.1
"""The autoscaler ignores a change while load is within ±10% of what the current replicas are
sized for; so a replica counts as sized for ``target_concurrency`` × (1 + this)."""

RECENT_BUCKETS = 6
"""The warm-up window keeps its lowest load per sixth of the window."""

MEMORY_BUCKETS = 12
"""The burst memory keeps its largest rise per twelfth of the memory."""

QUEUED_MEMORY_SHARE = 1 / 3
"""A rise measured while it outgrew the replicas (queue or load? both look the same) keeps
headroom for this share of the memory only, unless a burst met without a queue confirms it."""

HEADROOM_GROWTH = 1.5
"""A rise is remembered at most at this multiple of the load the replicas before it were sized
for (``target_concurrency`` each): beyond that the deployment was short, and in-flight requests
measure its queue, not its load."""


@dataclass(frozen=True)
class Memory:
    """What headroom remembers between passes (part of the deployment's scaler state)."""

    recent: tuple[tuple[float, float, int], ...] = ()
    """(bucket start, lowest load, fewest replicas) over the last ``warmup_seconds``."""
    rises: tuple[tuple[float, float, int, float], ...] = ()
    """(bucket start, largest rise within a warm-up, 1 if it outgrew the replicas before it,
    the load it reached) over ``burst_memory_seconds``."""


def _bucket(now: float, window: float, buckets: int) -> float:
    size = max(window / buckets, 1.0)
    return math.floor(now / size) * size


def remember_load(
    memory: Memory,
    cfg: AutoscaleConfig,
    load: float,
    current: int,
    now: float,
    queue_free: bool = False,
) -> Memory:
    """Fold this pass's load into the warm-up window; when a bucket of it completes, fold the
    rise it shows into the memory.

    A bucket's level is its lowest load (a rise must last a bucket, not one sample). Its rise is
    that level over the lowest load of the warm-up before it, counted at most at
    ``HEADROOM_GROWTH`` × target × the fewest replicas then, and not at all when that lowest load
    already exceeded what those replicas were sized for (the window started in a queue) — unless
    the load is ``queue_free`` (a queue in it was taken out, see
    :func:`flotilla.policies.autoscale.load_of`): then the rise is taken as it is.
    """
    if cfg.burst_memory_seconds <= 0 or cfg.warmup_seconds <= 0:
        return Memory()
    warmup = float(cfg.warmup_seconds)
    size = max(warmup / RECENT_BUCKETS, 1.0)
    start = _bucket(now, warmup, RECENT_BUCKETS)
    recent = list(memory.recent)
    rise: tuple[float, bool, float] | None = None
    if recent and recent[-1][0] == start:
        _, low, few = recent[-1]
        recent[-1] = (start, min(low, load), min(few, current))
    else:
        if recent:
            rise = _rise(
                cfg,
                recent[-1],
                [b for b in recent[:-1] if b[0] >= recent[-1][0] - warmup],
                queue_free,
            )
        recent.append((start, load, current))
    recent = [b for b in recent if b[0] + size > now - warmup - size]

    kept_for = float(cfg.burst_memory_seconds)
    mem_size = max(kept_for / MEMORY_BUCKETS, 1.0)
    rises = [b for b in memory.rises if b[0] + mem_size > now - kept_for]
    if rise is not None and rise[0] > 0:
        size, queued, level = rise
        if not queued and size >= cfg.target_concurrency:
            # a burst met without a queue measures its true size: larger sizes measured in a
            # queue before it were inflated by that queue
            rises = [b for b in rises if not (b[2] and b[1] > size)]
        mem_start = _bucket(now, kept_for, MEMORY_BUCKETS)
        if rises and rises[-1][0] == mem_start:
            _, kept, kept_queued, kept_level = rises[-1]
            rises[-1] = (
                mem_start,
                max(size, kept),
                int(queued) if size > kept else kept_queued,
                max(level, kept_level),
            )
        else:
            rises.append((mem_start, size, int(queued), level))
    return Memory(tuple(recent), tuple(rises))


def _rise(
    cfg: AutoscaleConfig,
    bucket: tuple[float, float, int],
    before: list[tuple[float, float, int]],
    queue_free: bool,
) -> tuple[float, bool, float]:
    """The rise a completed bucket shows, whether it outgrew the replicas before it (and so
    may measure a queue), and the load it reached."""
    if not before:
        return 0.0, False, 0.0
    floor = min(b[1] for b in before)
    if queue_free:
        rise = max(0.0, bucket[1] - floor)
        return rise, False, floor + rise
    sized_for = cfg.target_concurrency * max(min(b[2] for b in before), 1) * (1 + TOLERANCE)
    if floor > sized_for:
        return 0.0, True, 0.0
    rise = max(0.0, min(bucket[1], floor + HEADROOM_GROWTH * sized_for) - floor)
    return rise, floor + rise > sized_for, floor + rise


def headroom(memory: Memory, cfg: AutoscaleConfig, now: float) -> tuple[int, float]:
    """Replicas for the recent floor of load plus the largest remembered rise — but never for
    more than the highest load those rises reached — and that rise.

    A rise below one replica's ``target_concurrency`` keeps nothing spare: that much is noise,
    which the slack every replica has above its target absorbs. The cap matters within a burst:
    there the floor is the burst's own level, and another rise on top of it was never seen.
    """
    kept_for = float(cfg.burst_memory_seconds)
    warmup = float(cfg.warmup_seconds)
    if kept_for <= 0 or warmup <= 0 or not memory.recent:
        return 0, 0.0
    mem_size = max(kept_for / MEMORY_BUCKETS, 1.0)
    uncertain = kept_for * QUEUED_MEMORY_SHARE
    kept = [
        (size, level)
        for start, size, queued, level in memory.rises
        if start + mem_size > now - (uncertain if queued else kept_for)
    ]
    rise = max((size for size, _ in kept), default=0.0)
    if rise < cfg.target_concurrency:
        return 0, 0.0
    size = max(warmup / RECENT_BUCKETS, 1.0)
    floor = min((b[1] for b in memory.recent if b[0] + size > now - warmup), default=0.0)
    reached = max(level for _, level in kept)
    per_replica = cfg.target_concurrency * (1 + TOLERANCE)
    return math.ceil(min(floor + rise, max(reached, floor)) / per_replica - 1e-9), rise
