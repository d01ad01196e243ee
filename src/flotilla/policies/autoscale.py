"""How many replicas a deployment should have, from its traffic.

The core is Little's-law arithmetic: replicas = ⌈in-flight requests ÷ target_concurrency⌉,
taken over two windows — ``traffic_history_seconds`` (stable) and a short burst window — so a
burst is answered in seconds while a dip is not. Around it, as Ray Serve and the Kubernetes HPA
wrap theirs: a request held at zero replicas starts one at once; growth waits
``scale_up_delay_seconds`` of sustained need; shrinking uses the highest recommendation of the
last ``scale_down_delay_seconds`` (so jittery samples never flap); zero comes only after
``scale_to_zero_delay_seconds`` without a request; and the result stays within min/max.

Reacting is not enough when load can rise faster than a replica can start: the autoscaler also
keeps **burst headroom** (:mod:`flotilla.policies.headroom`).

**A queue is not load.** In-flight requests count the work waiting as well as the work being
served, so when replicas are missing (a spot interruption took some, a burst outran them), the
queue would read as a burst and bring far more replicas than the traffic needs. The gateways also
report arrivals, and by Little's law in-flight = arrival rate × time in flight. The autoscaler
measures the time in flight per request (``service_seconds``) while no replica is missing and
there is no queue. Beyond what the ready replicas are sized for, it counts the load as at most
arrival rate × that time (the in-flight the traffic makes when no replica is missing) whenever
the queue is explained: replicas are missing, or were within the stable window (their queue
still drains), or the arrivals alone outgrew the replicas (a burst arrived). A queue nothing
explains — every wanted replica ready, arrivals within their size — counts as load: the
requests got slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from flotilla.domain.specs import AutoscaleConfig
from flotilla.policies.headroom import TOLERANCE, Memory, headroom, remember_load

BURST_TOLERANCE = 0.25
"""The short (burst) window's tolerance: wider, since a few seconds of samples are noisier."""

DOWN_BUCKETS = 10
"""The scale-down window keeps its maximum per tenth of the window: bounded state."""

MIN_MEASURED_RATE = 0.5
"""Arrivals per second the burst window needs before its time in flight is measured."""

SERVICE_SMOOTHING_SECONDS = 30.0
"""The time-in-flight estimate follows its measurements with this time constant."""

STATE_GRAIN_SECONDS = 15.0
"""The time in flight is measured, and ``short_at`` moved, at most this often: the state is
written only when it changes, and a change every pass would be a write every pass."""


@dataclass(frozen=True)
class TrafficWindow:
    """What the gateways saw for one deployment, as of ``now``."""

    stable_concurrency: float = 0.0
    """Average requests in flight over ``traffic_history_seconds``."""
    burst_concurrency: float = 0.0
    """Average requests in flight over the short burst window."""
    stable_arrival_rate: float = 0.0
    """Requests per second arriving over ``traffic_history_seconds``."""
    burst_arrival_rate: float = 0.0
    """Requests per second arriving over the short burst window."""
    held: int = 0
    """Requests waiting right now because no replica is ready."""
    last_request_at: float | None = None
    """When the latest request arrived (seconds on the controller's clock)."""
    ready: int | None = None
    """Replicas ready to serve now; None: all of the current ones."""


@dataclass(frozen=True)
class ScalerState:
    """What the autoscaler remembers between passes (stored with the deployment)."""

    up_since: float | None = None
    """Since when more replicas than now have been wanted."""
    down_buckets: tuple[tuple[float, int], ...] = field(default_factory=tuple)
    """(bucket start, highest recommendation in it) over the scale-down window."""
    recent: tuple[tuple[float, float, int], ...] = field(default_factory=tuple)
    """(bucket start, lowest load, fewest replicas) over the last ``warmup_seconds``."""
    rises: tuple[tuple[float, float, int, float], ...] = field(default_factory=tuple)
    """(bucket start, largest rise within a warm-up, 1 if it outgrew the replicas before it,
    the load it reached) over ``burst_memory_seconds``."""
    service_seconds: float | None = None
    """Time in flight per request while the deployment is not short of replicas (None: not
    measured yet)."""
    service_at: float | None = None
    """When ``service_seconds`` was last measured."""
    short_at: float | None = None
    """When replicas were last missing (some not ready, or requests held)."""

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "up_since": self.up_since,
            "down_buckets": [list(b) for b in self.down_buckets],
        }
        if self.recent or self.rises:  # baselines never set them: their state stays as it was
            data["recent"] = [list(b) for b in self.recent]
            data["rises"] = [list(b) for b in self.rises]
        if self.service_seconds is not None:
            data["service_seconds"] = self.service_seconds
            data["service_at"] = self.service_at
        if self.short_at is not None:
            data["short_at"] = self.short_at
        return data

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> ScalerState:
        if not data:
            return cls()
        up_since = data.get("up_since")
        buckets = data.get("down_buckets") or []
        recent = data.get("recent") or []
        rises = data.get("rises") or []
        assert isinstance(buckets, list) and isinstance(recent, list) and isinstance(rises, list)
        return cls(
            up_since=_number(up_since),
            down_buckets=tuple((float(b[0]), int(b[1])) for b in buckets),
            recent=tuple((float(b[0]), float(b[1]), int(b[2])) for b in recent),
            # a rise stored without the load it reached (older state) counts as reaching its size
            rises=tuple(
                (float(b[0]), float(b[1]), int(b[2]), float(b[3] if len(b) > 3 else b[1]))
                for b in rises
            ),
            service_seconds=_number(data.get("service_seconds")),
            service_at=_number(data.get("service_at")),
            short_at=_number(data.get("short_at")),
        )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class ScaleDecision:
    desired_replicas: int
    reason: str
    """Shown in events: "concurrency 9.5 > 4 × 2 replicas"."""


@dataclass(frozen=True)
class Load:
    """The load each window shows, in requests in flight, with a queue taken out when it can."""

    stable: float
    burst: float
    queue_free: bool
    """Whether any queue in it was taken out: rises it shows are load."""


def replicas_missing(traffic: TrafficWindow, current: int) -> bool:
    """Whether replicas are missing now: some not ready yet, or requests held for one."""
    ready = current if traffic.ready is None else traffic.ready
    return traffic.held > 0 or ready < current


def _recently_short(state: ScalerState, cfg: AutoscaleConfig, now: float) -> bool:
    """Replicas were missing within the stable window (``short_at`` lags by up to a grain)."""
    if state.short_at is None:
        return False
    return now - state.short_at <= cfg.traffic_history_seconds + STATE_GRAIN_SECONDS


def load_of(
    cfg: AutoscaleConfig, traffic: TrafficWindow, state: ScalerState, current: int, now: float
) -> Load:
    """In-flight requests of each window, with the queue taken out where it can be told apart.

    Beyond what the ready replicas are sized for, in-flight may count a queue. It is taken as at
    most arrival rate × ``service_seconds`` (the in-flight this traffic makes when no replica is
    missing) when the queue is explained: replicas are missing, or were within the stable window
    (the queue they left still drains), or the arrivals alone outgrew the replicas (a burst
    arrived), or — for the stable window — the burst window no longer shows it. Never less than
    what the ready replicas serve, so a draining queue holds them.
    Unexplained — every replica ready, arrivals within their size — in-flight counts as it is:
    the requests got slower.
    """
    service = state.service_seconds
    if service is None:
        return Load(traffic.stable_concurrency, traffic.burst_concurrency, queue_free=False)
    ready = current if traffic.ready is None else traffic.ready
    sized_for = ready * cfg.target_concurrency * (1 + TOLERANCE)
    missing = _recently_short(state, cfg, now)
    trusted = True

    def counted(in_flight: float, rate: float, explained: bool) -> float:
        nonlocal trusted
        demand = rate * service
        if in_flight <= sized_for:
            return in_flight
        if explained or demand > sized_for:
            return max(ready * cfg.target_concurrency, min(in_flight, demand))
        trusted = False
        return in_flight

    burst = counted(traffic.burst_concurrency, traffic.burst_arrival_rate, missing)
    # a queue the burst window no longer shows (beyond its jitter) is over: the stable window
    # only remembers it
    gone = traffic.burst_concurrency <= ready * cfg.target_concurrency * (1 + BURST_TOLERANCE)
    stable = counted(traffic.stable_concurrency, traffic.stable_arrival_rate, missing or gone)
    return Load(stable, burst, queue_free=trusted)


def measure_service(
    cfg: AutoscaleConfig, traffic: TrafficWindow, state: ScalerState, current: int, now: float
) -> ScalerState:
    """Note when replicas are missing (``short_at``). When none are, nor were within the stable
    window, and the burst window had enough arrivals and stayed within what the replicas are
    sized for (no queue to speak of), fold its time in flight per request (in-flight ÷ arrival
    rate: Little's law) into ``service_seconds``, smoothed over ``SERVICE_SMOOTHING_SECONDS``."""
    if replicas_missing(traffic, current):
        if state.short_at is not None and now - state.short_at < STATE_GRAIN_SECONDS:
            return state
        return replace(state, short_at=now)
    if _recently_short(state, cfg, now):
        return state  # the queue left by missing replicas may still drain
    rate = traffic.burst_arrival_rate
    sized_for = current * cfg.target_concurrency * (1 + TOLERANCE)
    if rate < MIN_MEASURED_RATE or current == 0 or traffic.burst_concurrency > sized_for:
        return state
    measured = traffic.burst_concurrency / rate
    if state.service_seconds is None or state.service_at is None:
        return replace(state, service_seconds=measured, service_at=now)
    if now - state.service_at < STATE_GRAIN_SECONDS:
        return state
    weight = 1.0 - math.exp(-max(now - state.service_at, 0.0) / SERVICE_SMOOTHING_SECONDS)
    service = state.service_seconds + weight * (measured - state.service_seconds)
    return replace(state, service_seconds=service, service_at=now)


def recommend(cfg: AutoscaleConfig, traffic: TrafficWindow, current: int) -> int:
    """Replicas the load calls for, before delays and bounds.

    The short window counts only when it exceeds what the replicas are sized for by more than
    ``BURST_TOLERANCE`` (over a few seconds, in-flight requests jitter that much by chance), and
    then sizes replicas to the top of the tolerance band: its samples are inflated by the queue
    that made it fire, and the stable window refines the count once it catches up.
    """
    stable = _replicas_for(cfg, traffic.stable_concurrency, current, cfg.target_concurrency)
    if traffic.burst_concurrency > current * cfg.target_concurrency * (1 + BURST_TOLERANCE):
        per_replica = cfg.target_concurrency * (1 + TOLERANCE)
        return max(stable, math.ceil(traffic.burst_concurrency / per_replica - 1e-9))
    return stable


def _replicas_for(cfg: AutoscaleConfig, concurrency: float, current: int, per: float) -> int:
    if concurrency <= 0:
        return 0
    if current > 0:
        ratio = concurrency / (current * cfg.target_concurrency)
        if abs(ratio - 1.0) <= TOLERANCE:
            return current
    return math.ceil(concurrency / per - 1e-9)


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
    state = measure_service(cfg, traffic, state, current, now)
    measured = load_of(cfg, traffic, state, current, now)
    traffic = replace(traffic, stable_concurrency=measured.stable, burst_concurrency=measured.burst)
    want = recommend(cfg, traffic, current)
    idle_for = math.inf if traffic.last_request_at is None else now - traffic.last_request_at
    load = max(traffic.stable_concurrency, traffic.burst_concurrency)
    memory = remember_load(
        Memory(state.recent, state.rises),
        cfg,
        traffic.burst_concurrency,
        current,
        now,
        measured.queue_free,
    )
    state = replace(state, recent=memory.recent, rises=memory.rises)
    spare, rise = 0, 0.0
    if traffic.held > 0 or idle_for < cfg.scale_to_zero_delay_seconds:
        want = max(want, 1)  # traffic is recent: stay warm until scale-to-zero applies
        spare, rise = headroom(memory, cfg, now)  # and ready for the bursts it has shown
        if spare > want:
            want = spare
        else:
            spare = 0
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
            if spare >= bounded:
                reason = _headroom_reason(cfg, load, rise, bounded)
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
            reason = _down_reason(cfg, traffic, current, target)
            if spare >= target:
                reason = _headroom_reason(cfg, load, rise, target)
            return ScaleDecision(target, reason), state
        return ScaleDecision(current, "holding: load within the scale-down window"), state
    return ScaleDecision(current, "steady"), state


def _up_reason(cfg: AutoscaleConfig, traffic: TrafficWindow, current: int, target: int) -> str:
    if current < cfg.min_replicas:
        return f"min_replicas is {cfg.min_replicas}"
    conc = max(traffic.stable_concurrency, traffic.burst_concurrency)
    capped = " (max_replicas)" if target == cfg.max_replicas else ""
    return f"concurrency {conc:.1f} > {cfg.target_concurrency:g} × {current} replicas{capped}"


def _headroom_reason(cfg: AutoscaleConfig, load: float, rise: float, target: int) -> str:
    return (
        f"burst headroom: concurrency {load:.1f}, rises of {rise:.1f} seen within "
        f"{cfg.warmup_seconds}s in the last {cfg.burst_memory_seconds}s → {target} replicas"
    )


def _down_reason(cfg: AutoscaleConfig, traffic: TrafficWindow, current: int, target: int) -> str:
    conc = traffic.stable_concurrency
    return (
        f"concurrency {conc:.1f} needs {target} replicas at {cfg.target_concurrency:g} each, "
        f"for {cfg.scale_down_delay_seconds}s"
    )
