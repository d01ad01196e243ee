"""The baselines' rules, each in a few lines with exact times: static, HPA-like, KPA-like."""

from __future__ import annotations

from flotilla.domain.specs import AutoscaleConfig
from flotilla.policies.autoscale import ScalerState, TrafficWindow
from flotilla.simulation import baselines
from flotilla.simulation.dataplane import ModelProfile
from flotilla.simulation.traces import Trace

CFG = AutoscaleConfig(max_replicas=40, target_concurrency=4.0)
KPA = CFG.model_copy(update={"traffic_history_seconds": 60})


def load(concurrency: float, last: float | None = 0.0, held: int = 0) -> TrafficWindow:
    return TrafficWindow(
        stable_concurrency=concurrency,
        burst_concurrency=concurrency,
        held=held,
        last_request_at=last,
    )


def drive(policy, cfg, steps, current, state=None):
    """Run ``policy`` over (time, traffic) steps, applying each decision; return the counts."""
    state = state or ScalerState()
    counts = []
    for now, traffic in steps:
        decision, state = policy(cfg, traffic, ScalerState.from_json(state.to_json()), current, now)
        current = decision.desired_replicas
        counts.append(current)
    return counts


# ---------------------------------------------------------------------------- static


def test_static_always_wants_its_peak() -> None:
    policy = baselines.static(7)
    assert drive(policy, CFG, [(0, load(0)), (10, load(100)), (20, load(0, held=5))], 0) == [7] * 3


def test_static_peak_covers_the_busiest_minute_with_queueing_headroom() -> None:
    # 60 requests/s × 0.2 s = 12 in flight: 3 replicas of 4 slots would run at 100%.
    trace = Trace("t", 120.0, {"a": [i / 60 for i in range(60 * 60)], "b": [1.0]})
    assert baselines.peak_rate(trace) == 60.0
    assert baselines.peak_replicas(trace, ModelProfile(service_seconds=0.2, slots=4)) == 4


def test_erlang_c_is_one_when_the_queue_is_unstable_and_falls_with_servers() -> None:
    assert baselines.erlang_c(4, 4.0) == 1.0
    assert baselines.erlang_c(1, 0.5) == 0.5  # M/M/1: waits with probability ρ
    assert baselines.erlang_c(8, 4.0) < baselines.erlang_c(6, 4.0) < 1.0


# ---------------------------------------------------------------------------- HPA


def test_hpa_scales_to_current_times_metric_over_target() -> None:
    decision, _ = baselines.hpa(CFG, load(20.0), ScalerState(), 2, 0.0)
    assert decision.desired_replicas == 5


def test_hpa_ignores_a_change_within_ten_percent_tolerance() -> None:
    assert baselines.hpa(CFG, load(8.7), ScalerState(), 2, 0.0)[0].desired_replicas == 2
    assert baselines.hpa(CFG, load(8.9), ScalerState(), 2, 0.0)[0].desired_replicas == 3


def test_hpa_acts_only_every_fifteen_seconds() -> None:
    steps = [(0, load(4.0)), (5, load(40.0)), (10, load(40.0)), (15, load(40.0))]
    assert drive(baselines.hpa, CFG, steps, 1) == [1, 1, 1, 5]  # 5: at most +100% or +4


def test_hpa_scale_up_is_limited_to_double_or_four_more_per_period() -> None:
    steps = [(t, load(200.0)) for t in (0, 15, 30)]
    assert drive(baselines.hpa, CFG, steps, 10) == [20, 40, 40]
    assert drive(baselines.hpa, CFG, [(0, load(200.0))], 1) == [5]


def test_hpa_scales_down_only_to_the_highest_recommendation_of_the_last_300_s() -> None:
    steps = [(0, load(16.0))] + [(t, load(4.0)) for t in range(15, 301, 15)]
    counts = drive(baselines.hpa, CFG, steps, 4)
    assert counts[0] == 4
    assert set(counts[1:-1]) == {4}  # t=15..285: the 4 of t=0 is still in the window
    assert counts[-1] == 1  # t=300: it has left


def test_hpa_never_goes_below_one_replica() -> None:
    steps = [(t, load(0.0, last=None)) for t in range(0, 4000, 15)]
    assert drive(baselines.hpa, CFG, steps, 1)[-1] == 1
    assert baselines.hpa(CFG, load(0.0, last=None), ScalerState(), 0, 0.0)[0].desired_replicas == 1


# ---------------------------------------------------------------------------- KPA


def test_kpa_follows_the_stable_window() -> None:
    traffic = TrafficWindow(stable_concurrency=12.0, burst_concurrency=12.0, last_request_at=0)
    assert baselines.kpa(KPA, traffic, ScalerState(), 3, 0.0)[0].desired_replicas == 3


def test_kpa_panics_at_twice_the_current_replicas_in_the_panic_window() -> None:
    calm = TrafficWindow(stable_concurrency=4.0, burst_concurrency=12.0, last_request_at=0)
    surge = TrafficWindow(stable_concurrency=4.0, burst_concurrency=12.1, last_request_at=0)
    decision, state = baselines.kpa(KPA, calm, ScalerState(), 2, 0.0)
    assert (decision.desired_replicas, state.up_since) == (1, None)  # 3 wanted: 150%, no panic
    decision, state = baselines.kpa(KPA, surge, ScalerState(), 2, 0.0)
    assert decision.desired_replicas == 4  # 4 wanted: 200%
    assert state.up_since == 0.0  # panicking since t=0


def test_kpa_never_scales_down_while_panicking_and_stops_60_s_after_the_surge() -> None:
    surge = TrafficWindow(stable_concurrency=4.0, burst_concurrency=40.0, last_request_at=0)
    after = TrafficWindow(stable_concurrency=4.0, burst_concurrency=4.0, last_request_at=0)
    steps = [(0, surge)] + [(t, after) for t in range(2, 64, 2)]
    counts = drive(baselines.kpa, KPA, steps, 1)
    assert counts[0] == 10
    assert set(counts[1:-1]) == {10}  # t=2..60: still panicking
    assert counts[-1] == 5  # t=62: back on the stable window, at most halving per pass


def test_kpa_scales_to_zero_after_the_stable_window_and_a_30_s_grace() -> None:
    idle = load(0.0, last=0.0)
    assert baselines.kpa(KPA, idle, ScalerState(), 1, 89.0)[0].desired_replicas == 1
    assert baselines.kpa(KPA, idle, ScalerState(), 1, 90.0)[0].desired_replicas == 0


def test_kpa_scales_from_zero_when_a_request_is_held() -> None:
    decision, _ = baselines.kpa(KPA, load(0.0, last=500.0, held=9), ScalerState(), 0, 500.0)
    assert decision.desired_replicas == 3
    assert baselines.kpa(KPA, load(0.0, last=None), ScalerState(), 0, 9.0)[0].desired_replicas == 0
