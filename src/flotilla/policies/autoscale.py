"""How many replicas a deployment should have, from its traffic.

The core is Little's-law arithmetic: replicas = ⌈in-flight requests ÷ target_concurrency⌉,
taken over two windows — ``traffic_history_seconds`` (stable) and a short burst window — so a
burst is answered in seconds while a dip is not. Around it, as Ray Serve and the Kubernetes HPA
wrap theirs: a request held at zero replicas starts one at once; growth waits
``scale_up_delay_seconds`` of sustained need; shrinking uses the highest recommendation of the
last ``scale_down_delay_seconds`` (so jittery samples never flap); zero comes only after
``scale_to_zero_delay_seconds`` without a request; and the result stays within min/max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from flotilla.domain.specs import AutoscaleConfig

TOLERANCE = 0.1
"""Ignore a change while load is within ±10% of what the current replicas are sized for."""

DOWN_BUCKETS = 10
"""The scale-down window keeps its maximum per tenth of the window: bounded state."""


@dataclass(frozen=True)
class TrafficWindow:
    """What the gateways saw for one deployment, as of ``now``."""

    stable_concurrency: float = 0.0
    """Average requests in flight over ``traffic_history_seconds``."""
    burst_concurrency: float = 0.0
    """Average requests in flight over the short burst window."""
    held: int = 0
    """Requests waiting right now because no replica is ready."""
    last_request_at: float | None = None
    """When the latest request arrived (seconds on the controller's clock)."""


@dataclass(frozen=True)
class ScalerState:
    """What the autoscaler remembers between passes (stored with the deployment)."""

    up_since: float | None = None
    """Since when more replicas than now have been wanted."""
    down_buckets: tuple[tuple[float, int], ...] = field(default_factory=tuple)
    """(bucket start, highest recommendation in it) over the scale-down window."""

    def to_json(self) -> dict[str, object]:
        return {"up_since": self.up_since, "down_buckets": [list(b) for b in self.down_buckets]}

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> ScalerState:
        if not data:
            return cls()
        up_since = data.get("up_since")
        buckets = data.get("down_buckets") or []
        assert isinstance(buckets, list)
        return cls(
            up_since=float(up_since) if isinstance(up_since, (int, float)) else None,
            down_buckets=tuple((float(b[0]), int(b[1])) for b in buckets),
        )


@dataclass(frozen=True)
class ScaleDecision:
    desired_replicas: int
    reason: str
    """Shown in events: "concurrency 9.5 > 4 × 2 replicas"."""


def recommend(cfg: AutoscaleConfig, traffic: TrafficWindow, current: int) -> int:
    """Replicas the load calls for, before delays and bounds."""
    concurrency = max(traffic.stable_concurrency, traffic.burst_concurrency)
    if concurrency <= 0:
        return 0
    if current > 0:
        ratio = concurrency / (current * cfg.target_concurrency)
        if abs(ratio - 1.0) <= TOLERANCE:
            return current
    return math.ceil(concurrency / cfg.target_concurrency - 1e-9)


def _record_down(state: ScalerState, cfg: AutoscaleConfig, want: int, now: float) -> ScalerState:
    window = cfg.scale_down_delay_seconds
    if window <= 0:
        return replace(state, down_buckets=())
    size = max(window / DOWN_BUCKETS, 1.0)
    start = math.floor(now / size) * size
    kept = [(t, v) for t, v in state.down_buckets if t > now - window - size]
    if kept and kept[-1][0] == start:
        kept[-1] = (start, max(kept[-1][1], want))
    else:
        kept.append((start, want))
    return replace(state, down_buckets=tuple(kept))


def _window_max(state: ScalerState, cfg: AutoscaleConfig, now: float) -> int:
    """The highest recommendation over the whole scale-down window."""
    window = cfg.scale_down_delay_seconds
    size = max(window / DOWN_BUCKETS, 1.0)
    return max((v for t, v in state.down_buckets if t + size > now - window), default=0)


def _window_full(state: ScalerState, cfg: AutoscaleConfig, now: float) -> bool:
    """True when the recommendations cover the whole window (the down delay has elapsed)."""
    if cfg.scale_down_delay_seconds <= 0:
        return True
    return (
        bool(state.down_buckets) and state.down_buckets[0][0] <= now - cfg.scale_down_delay_seconds
    )


def decide_replicas(
    cfg: AutoscaleConfig,
    traffic: TrafficWindow,
    state: ScalerState,
    current: int,
    now: float,
) -> tuple[ScaleDecision, ScalerState]:
    """The replica count for this pass, and what to remember for the next."""
    want = recommend(cfg, traffic, current)
    idle_for = math.inf if traffic.last_request_at is None else now - traffic.last_request_at
    if traffic.held > 0 or idle_for < cfg.scale_to_zero_delay_seconds:
        want = max(want, 1)  # traffic is recent: stay warm until scale-to-zero applies
    state = _record_down(state, cfg, want, now)
    bounded = min(max(want, cfg.min_replicas), cfg.max_replicas)

    if current == 0 and traffic.held > 0 and cfg.max_replicas > 0:
        target = max(bounded, 1)
        return ScaleDecision(target, f"scale from zero: {traffic.held} requests waiting"), replace(
            state, up_since=None
        )

    if bounded > current:
        up_since = state.up_since if state.up_since is not None else now
        if current < cfg.min_replicas or now - up_since >= cfg.scale_up_delay_seconds:
            reason = _up_reason(cfg, traffic, current, bounded)
            return ScaleDecision(bounded, reason), replace(state, up_since=None)
        waited = now - up_since
        return (
            ScaleDecision(
                current,
                f"want {bounded}, waiting scale_up_delay ({waited:.0f}/{cfg.scale_up_delay_seconds}s)",
            ),
            replace(state, up_since=up_since),
        )

    state = replace(state, up_since=None)
    if bounded < current:
        if current > cfg.max_replicas:
            return ScaleDecision(bounded, f"max_replicas is {cfg.max_replicas}"), state
        if bounded == 0:  # idle for scale_to_zero_delay_seconds already
            return ScaleDecision(0, f"scale to zero: no request for {idle_for:.0f}s"), state
        if not _window_full(state, cfg, now):
            return ScaleDecision(current, "holding: scale_down_delay not elapsed"), state
        floor = min(max(_window_max(state, cfg, now), cfg.min_replicas), cfg.max_replicas)
        target = max(bounded, min(floor, current))
        if target < current:
            return ScaleDecision(target, _down_reason(cfg, traffic, current, target)), state
        return ScaleDecision(current, "holding: load within the scale-down window"), state
    return ScaleDecision(current, "steady"), state


def _up_reason(cfg: AutoscaleConfig, traffic: TrafficWindow, current: int, target: int) -> str:
    if current < cfg.min_replicas:
        return f"min_replicas is {cfg.min_replicas}"
    conc = max(traffic.stable_concurrency, traffic.burst_concurrency)
    capped = " (max_replicas)" if target == cfg.max_replicas else ""
    return f"concurrency {conc:.1f} > {cfg.target_concurrency:g} × {current} replicas{capped}"


def _down_reason(cfg: AutoscaleConfig, traffic: TrafficWindow, current: int, target: int) -> str:
    conc = traffic.stable_concurrency
    return (
        f"concurrency {conc:.1f} needs {target} replicas at {cfg.target_concurrency:g} each, "
        f"for {cfg.scale_down_delay_seconds}s"
    )
