"""The autoscalers Flotilla's is compared with, as policies the real reconciler can run.

Each baseline has the :data:`~flotilla.controllers.decide.Autoscaler` signature, so the benchmark
swaps it in for :func:`flotilla.policies.autoscale.decide_replicas` and everything else — the
store, the scheduler, the node autoscaler, spot handling, the data plane — stays the same:

- :func:`static` — provisioned for the trace's peak, never changes (:func:`peak_replicas`).
- :func:`hpa` — the Kubernetes Horizontal Pod Autoscaler's rules with its defaults.
- :func:`kpa` — Knative's KPA with its defaults (run it with ``traffic_history_seconds=60`` and a
  6 s burst window: those are its stable and panic windows).

All aim at the deployment's ``target_concurrency`` and respect ``max_replicas``. What a baseline
remembers between passes lives in :class:`ScalerState`'s two fields (the reconciler stores that
class's JSON), each use documented where it happens.
"""

from __future__ import annotations

import math
from dataclasses import replace

from flotilla.controllers.decide import Autoscaler
from flotilla.domain.specs import AutoscaleConfig
from flotilla.policies.autoscale import ScaleDecision, ScalerState, TrafficWindow
from flotilla.simulation.dataplane import ModelProfile
from flotilla.simulation.traces import Trace

PEAK_WINDOW_SECONDS = 60.0


# ---------------------------------------------------------------------------- static


def erlang_c(servers: int, load: float) -> float:
    """Probability that a request waits in an M/M/c queue with ``servers`` and offered ``load``
    (erlangs); 1.0 when the queue is unstable."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    term, total = 1.0, 1.0  # a**k / k! for k = 0, summed
    for k in range(1, servers):
        term *= load / k
        total += term
    last = term * load / servers * servers / (servers - load)
    return last / (total + last)


def replicas_for(rate: float, profile: ModelProfile, slo_seconds: float, miss: float) -> int:
    """Fewest replicas that serve ``rate`` requests/s with at most ``miss`` of them waiting longer
    than the SLO leaves after service (M/M/c over all slots: the gateway sends each request to the
    slot that frees first)."""
    load = rate * profile.service_seconds
    slack = slo_seconds - profile.service_seconds * (1 + profile.jitter)
    replicas = max(1, math.ceil(load / profile.slots))
    while True:
        servers = replicas * profile.slots
        late = erlang_c(servers, load) * math.exp(
            -(servers - load) * slack / profile.service_seconds
        )
        if load < servers and late <= miss:
            return replicas
        replicas += 1


def peak_rate(trace: Trace, window: float = PEAK_WINDOW_SECONDS) -> float:
    """Highest arrival rate of any deployment over any ``window``-second slice of the trace."""
    peak = 0
    for times in trace.arrivals.values():
        counts: dict[int, int] = {}
        for t in times:
            key = int(t // window)
            counts[key] = counts.get(key, 0) + 1
        peak = max(peak, max(counts.values(), default=0))
    return peak / window


def peak_replicas(
    trace: Trace, profile: ModelProfile, slo_seconds: float = 1.0, miss: float = 0.001
) -> int:
    """Replicas per deployment that serve the trace's busiest minute within the SLO: the peak
    rate × service time ÷ slots, plus the headroom queueing needs (Erlang C)."""
    return replicas_for(peak_rate(trace), profile, slo_seconds, miss)


def static(peak: int) -> Autoscaler:
    """Always ``peak`` replicas: provisioning for the peak, as without an autoscaler."""

    def decide(
        cfg: AutoscaleConfig, traffic: TrafficWindow, state: ScalerState, current: int, now: float
    ) -> tuple[ScaleDecision, ScalerState]:
        return ScaleDecision(peak, f"static: {peak} replicas for the trace's peak"), state

    return decide


# ---------------------------------------------------------------------------- HPA

HPA_SYNC_SECONDS = 15.0
HPA_TOLERANCE = 0.1
HPA_DOWN_STABILIZATION_SECONDS = 300.0
HPA_UP_PERCENT = 100
HPA_UP_PODS = 4


def hpa(
    cfg: AutoscaleConfig, traffic: TrafficWindow, state: ScalerState, current: int, now: float
) -> tuple[ScaleDecision, ScalerState]:
    """The Kubernetes HPA (autoscaling/v2 defaults) on in-flight requests per replica.

    Every 15 s: desired = ⌈current × metric ÷ target⌉, unless metric ÷ target is within 10% of 1;
    scale-up at once but by at most max(100%, 4 replicas) per period; scale-down to the highest
    recommendation of the last 300 s; never below 1 replica (no scale to zero).

    State: ``up_since`` holds the last sync time, ``down_buckets`` the (time, recommendation)
    pairs of the stabilization window.
    """
    if state.up_since is not None and now - state.up_since < HPA_SYNC_SECONDS:
        return ScaleDecision(current, "hpa: between syncs"), state
    metric = traffic.burst_concurrency
    if current == 0:
        recommended = math.ceil(metric / cfg.target_concurrency - 1e-9)
    else:
        ratio = metric / (current * cfg.target_concurrency)
        recommended = current if abs(ratio - 1) <= HPA_TOLERANCE else math.ceil(current * ratio)
    recommended = min(max(recommended, 1, cfg.min_replicas), cfg.max_replicas)
    since = now - HPA_DOWN_STABILIZATION_SECONDS
    history = (*((t, v) for t, v in state.down_buckets if t > since), (now, recommended))
    # The HPA's stabilization: up to the newest recommendation, down only to the window's highest.
    desired = recommended if recommended >= current else min(current, max(v for _, v in history))
    limit = max(current * (100 + HPA_UP_PERCENT) // 100, current + HPA_UP_PODS)
    desired = min(desired, limit)
    state = ScalerState(up_since=now, down_buckets=history)
    reason = f"hpa: concurrency {metric:.1f} / target {cfg.target_concurrency:g} → {desired}"
    return ScaleDecision(desired, reason), state


# ---------------------------------------------------------------------------- KPA

KPA_PANIC_THRESHOLD = 2.0
KPA_ZERO_GRACE_SECONDS = 30.0
KPA_MAX_SCALE_DOWN_RATE = 2.0


def kpa(
    cfg: AutoscaleConfig, traffic: TrafficWindow, state: ScalerState, current: int, now: float
) -> tuple[ScaleDecision, ScalerState]:
    """Knative's KPA (defaults) on in-flight requests, each window's average ÷ target.

    Stable window: ``traffic_history_seconds`` (60 s); panic window: the burst window (6 s).
    Panic starts when the panic window wants ≥ 200% of the current replicas and lasts until the
    stable window (60 s) has passed without that; while panicking the count never goes down.
    Outside panic, the count follows the stable window, at most halving per pass. Zero comes when
    the stable window saw nothing and no request came for the window plus the 30 s grace; a
    request held at zero scales up at once.

    State: ``up_since`` holds the time panic was last confirmed (None: not panicking),
    ``down_buckets`` one (that time, most replicas wanted while panicking) pair.
    """
    target = cfg.target_concurrency
    stable = math.ceil(traffic.stable_concurrency / target - 1e-9)
    panic = math.ceil(traffic.burst_concurrency / target - 1e-9)
    over = panic / max(current, 1) >= KPA_PANIC_THRESHOLD
    panic_at, panic_max = state.up_since, max((v for _, v in state.down_buckets), default=0)
    if over:
        panic_at = now
    elif panic_at is not None and now - panic_at > cfg.traffic_history_seconds:
        panic_at, panic_max = None, 0

    if panic_at is not None:
        desired = max(stable, panic, panic_max)
        panic_max = desired
        reason = f"kpa: panic, {traffic.burst_concurrency:.1f} in flight over the panic window"
    else:
        desired = max(stable, math.floor(current / KPA_MAX_SCALE_DOWN_RATE))
        reason = f"kpa: {traffic.stable_concurrency:.1f} in flight over the stable window"

    idle_for = math.inf if traffic.last_request_at is None else now - traffic.last_request_at
    zero_after = cfg.traffic_history_seconds + KPA_ZERO_GRACE_SECONDS
    if traffic.held > 0:  # the activator reports the requests it holds at once
        desired = max(desired, math.ceil(traffic.held / target - 1e-9), 1)
        reason = f"kpa: scale from zero, {traffic.held} requests waiting"
    elif desired == 0 and idle_for < zero_after:
        desired = 1 if current > 0 else 0
        reason = f"kpa: idle {idle_for:.0f}s, grace until {zero_after:.0f}s"
    desired = min(max(desired, cfg.min_replicas), cfg.max_replicas)
    buckets = ((panic_at, panic_max),) if panic_at is not None else ()
    return ScaleDecision(desired, reason), replace(state, up_since=panic_at, down_buckets=buckets)
